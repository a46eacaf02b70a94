// The Swift conformance driver: the UniFFI-generated Swift binding (module `Roomlink`) behind the
// driver protocol of conformance/README.md (JSON lines: commands on stdin; replies, events and
// callback results on stdout). Same shape as the Rust reference driver.

import Foundation
import Roomlink

struct DriverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value behind a lock (the engines' callbacks arrive on their own threads).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func with<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Protocol lines go to stdout whole and one at a time: a line is written under the lock in one
/// write, so lines from the event threads never interleave.
final class Output: Sendable {
    private let lock = Locked(())

    func print(_ line: [String: JSON]) {
        var data = JSON.object(line).line()
        data.append(0x0A)
        lock.with { _ in
            // Nobody to tell if stdout is gone: the orchestrator has already failed the run.
            try? FileHandle.standardOutput.write(contentsOf: data)
        }
    }
}

/// A one-shot `in_callback` hook: run `then` inside the callback of the next event matching `when`.
struct Hook {
    /// The arming command's id, echoed in the callback result so the orchestrator can pair them.
    let id: JSON
    let when: [String: JSON]
    let then: [String: JSON]
}

/// The listener handed to each engine: prints the client's events (on the engine's event thread).
final class EventPrinter: RoomEventListener, Sendable {
    let client: String
    /// The driver lives as long as the process, so this reference keeps nothing alive too long.
    let driver: Driver

    init(client: String, driver: Driver) {
        self.client = client
        self.driver = driver
    }

    func onEvent(event: RoomEvent) {
        driver.onEvent(client: client, event: event)
    }
}

func string(_ fields: [String: JSON], _ key: String) throws -> String {
    guard let value = fields[key]?.string else { throw DriverError("missing string \"\(key)\"") }
    return value
}

func bool(_ fields: [String: JSON], _ key: String) throws -> Bool {
    guard let value = fields[key]?.bool else { throw DriverError("missing bool \"\(key)\"") }
    return value
}

func milliseconds(_ config: [String: JSON], _ key: String) throws -> UInt64 {
    guard let value = config[key]?.int, let ms = UInt64(exactly: value) else {
        throw DriverError("missing non-negative integer config.\(key)")
    }
    return ms
}

/// An optional array of strings (absent: none).
func optionalStrings(_ config: [String: JSON], _ key: String) throws -> [String] {
    guard let value = config[key] else { return [] }
    guard let items = value.array else { throw DriverError("config.\(key) must be an array") }
    return try items.map {
        guard let s = $0.string else { throw DriverError("config.\(key): not a string") }
        return s
    }
}

/// A binding call's reply fields: code 0, or the roomlink error code it threw.
func code(_ body: () throws -> Void) -> [String: JSON] {
    do {
        try body()
        return ["code": 0]
    } catch let error as RoomlinkError {
        return ["code": .int(Int64(error.code))]
    } catch {
        return ["code": -1, "error": .string("unexpected error: \(error)")]
    }
}

final class Driver: Sendable {
    let output = Output()
    private let engines = Locked([String: Engine]())
    /// Clients whose engine was destroyed: `exit` must not destroy them again.
    private let destroyed = Locked(Set<String>())
    /// Per client, oldest armed first.
    private let hooks = Locked([String: [Hook]]())

    private func engine(_ client: String) throws -> Engine {
        guard let engine = engines.with({ $0[client] }) else { throw DriverError("no client") }
        return engine
    }

    private func create(_ client: String, _ config: [String: JSON]) throws -> [String: JSON] {
        if engines.with({ $0[client] != nil }) { throw DriverError("client \"\(client)\" exists") }
        let roomMode: RoomMode
        switch try string(config, "room_mode") {
        case "single_room": roomMode = .singleRoom
        case "multi_room": roomMode = .multiRoom
        case let other: throw DriverError("unknown room_mode \"\(other)\"")
        }
        let engineConfig = EngineConfig(
            serverUrl: try string(config, "server_url"),
            roomMode: roomMode,
            heartbeatIntervalMs: try milliseconds(config, "heartbeat_interval_ms"),
            pingTimeoutMs: try milliseconds(config, "ping_timeout_ms"),
            loginTimeoutMs: try milliseconds(config, "login_timeout_ms"),
            retryWindowMs: try milliseconds(config, "retry_window_ms"),
            backoffBaseMs: try milliseconds(config, "backoff_base_ms"),
            backoffCapMs: try milliseconds(config, "backoff_cap_ms"),
            tokenWarningMs: try milliseconds(config, "token_warning_ms"),
            // Optional: further URLs (cluster-only scenarios) and a CA to pin (wss:// scenarios).
            moreServerUrls: try optionalStrings(config, "more_server_urls"),
            tlsCaPem: config["tls_ca_pem"] == nil ? nil : Data(try string(config, "tls_ca_pem").utf8)
        )
        return code {
            let engine = try Engine(config: engineConfig, listener: EventPrinter(client: client, driver: self))
            engines.with { $0[client] = engine }
        }
    }

    /// Runs on the engine's event thread: print the event, then fire a matching hook in place.
    func onEvent(client: String, event: RoomEvent) {
        let line = eventLine(client: client, event: event)
        // Choosing the hook and printing the line under one lock: a hook armed after this event's
        // line was printed never fires on it (hooks see only later events).
        let hook: Hook? = hooks.with { hooks in
            output.print(line)
            // Only the first-armed matching hook fires on one event.
            guard let at = hooks[client]?.firstIndex(where: { matches($0.when, line) }) else { return nil }
            return hooks[client]?.remove(at: at)
        }
        guard let hook else { return }
        var result: [String: JSON]
        do {
            result = try call(client, hook.then)
        } catch {
            result = ["code": -1, "error": .string("\(error)")]
        }
        result["hook"] = hook.id
        result["cmd"] = hook.then["cmd"] ?? .null
        output.print(["client": .string(client), "callback_result": .object(result)])
    }

    /// One engine call (a command, or a hook's `then`); the reply's fields except `id`.
    private func call(_ client: String, _ cmd: [String: JSON]) throws -> [String: JSON] {
        let name = try string(cmd, "cmd")
        let engine = try engine(client)
        if name == "destroy" {
            // Marked first: exit must never destroy it again, even if this destroy is in flight.
            // The handle stays: later calls on it must return 1900005 (engine destroyed).
            destroyed.with { _ = $0.insert(client) }
            return code { engine.destroy() }
        }
        switch name {
        case "login":
            let user = User(userId: try string(cmd, "user_id"), userName: try string(cmd, "user_name"))
            let (room, token, userUpdate) = (try string(cmd, "room"), try string(cmd, "token"), try bool(cmd, "user_update"))
            return code { try engine.loginRoom(roomId: room, user: user, token: token, userUpdate: userUpdate) }
        case "logout":
            let room = try string(cmd, "room")
            return code { try engine.logoutRoom(roomId: room) }
        case "switch_room":
            let (from, to, token) = (try string(cmd, "from"), try string(cmd, "to"), try string(cmd, "token"))
            return code { try engine.switchRoom(fromRoomId: from, toRoomId: to, token: token) }
        case "renew_token":
            let (room, token) = (try string(cmd, "room"), try string(cmd, "token"))
            return code { try engine.renewToken(roomId: room, token: token) }
        case "network":
            let available = try bool(cmd, "available")
            return code { engine.onNetworkChanged(available: available) }
        case "app":
            switch try string(cmd, "state") {
            case "background": return code { engine.onAppBackground() }
            case "foreground": return code { engine.onAppForeground() }
            case let other: throw DriverError("unknown app state \"\(other)\"")
            }
        case "room_state":
            let room = try string(cmd, "room")
            var reply = code {}
            reply["state"] = .int(Int64(engine.roomState(roomId: room).rawValue))
            return reply
        case "publish_stream":
            let (room, stream, extra) = (try string(cmd, "room"), try string(cmd, "stream_id"), try string(cmd, "extra_info"))
            return code { try engine.publishStream(roomId: room, streamId: stream, extraInfo: extra) }
        case "unpublish_stream":
            let (room, stream) = (try string(cmd, "room"), try string(cmd, "stream_id"))
            return code { try engine.unpublishStream(roomId: room, streamId: stream) }
        default:
            throw DriverError("unknown cmd \"\(name)\"")
        }
    }

    /// One stdin command → its reply's fields except `id`.
    func command(_ cmd: [String: JSON]) throws -> [String: JSON] {
        let client = try string(cmd, "client")
        switch try string(cmd, "cmd") {
        case "create":
            guard let config = cmd["config"]?.object else { throw DriverError("missing object \"config\"") }
            return try create(client, config)
        case "in_callback":
            guard let when = cmd["when"]?.object else { throw DriverError("missing object \"when\"") }
            guard let then = cmd["then"]?.object else { throw DriverError("missing object \"then\"") }
            _ = try string(then, "cmd")
            _ = try engine(client)
            let hook = Hook(id: cmd["id"] ?? .null, when: when, then: then)
            hooks.with { $0[client, default: []].append(hook) }
            return ["code": 0]
        default:
            return try call(client, cmd)
        }
    }

    /// `exit`: destroy every engine not destroyed yet (never twice).
    func destroyAll() {
        let all = engines.with { engines in
            defer { engines.removeAll() }
            return engines
        }
        let gone = destroyed.with { $0 }
        for (client, engine) in all where !gone.contains(client) {
            engine.destroy()
        }
    }
}

// roomlink's log records go to stderr (the orchestrator keeps it with a failed run); stdout is
// the protocol's alone.
RoomlinkLogging.install(level: .info)

let driver = Driver()
driver.output.print(["ready": true, "driver": "swift"])
while let line = readLine() {
    guard let cmd = (try? JSON.parse(line))?.object else {
        driver.output.print(["id": .null, "code": -1, "error": "not a JSON object"])
        continue
    }
    if cmd["cmd"] == "exit" {
        driver.destroyAll()
        driver.output.print(["id": cmd["id"] ?? .null, "code": 0])
        exit(0)
    }
    var reply: [String: JSON]
    do {
        reply = try driver.command(cmd)
    } catch {
        reply = ["code": -1, "error": .string("\(error)")]
    }
    reply["id"] = cmd["id"] ?? .null
    driver.output.print(reply)
}
