// Forwards roomlink's log records (Rust `log`) to the host's logger: the unified logging system
// on Apple platforms (subsystem "org.roomlink", category = the record's Rust module), stderr
// elsewhere (Linux, where this package is tested).

import Foundation

#if canImport(os)
    import os
#endif

public enum RoomlinkLogging {
    /// Forwards records at `level` and above, replacing any sink set before (the C API's too).
    /// Call once at startup; records may arrive on any thread, often the engine's.
    public static func install(level: LogLevel = .info) {
        setLogSink(sink: HostLogSink(), maxLevel: level)
    }

    /// Stops forwarding: roomlink logs nothing afterwards.
    public static func uninstall() {
        setLogSink(sink: nil, maxLevel: .error)
    }
}

final class HostLogSink: LogSink, Sendable {
    func log(level: LogLevel, target: String, message: String) {
        #if canImport(os)
            // `.public`: the messages hold room and stream IDs and codes, no secrets (tokens are
            // never logged), and redacted ones are useless in a bug report.
            if #available(iOS 14.0, macOS 11.0, tvOS 14.0, watchOS 7.0, *) {
                Logger(subsystem: "org.roomlink", category: target)
                    .log(level: level.osLogType, "\(message, privacy: .public)")
            } else {
                os_log("%{public}@", log: OSLog(subsystem: "org.roomlink", category: target), type: level.osLogType, message)
            }
        #else
            // One write per record, so records from several threads do not interleave.
            let line = "roomlink \(level.label) \(target): \(message)\n"
            try? FileHandle.standardError.write(contentsOf: Data(line.utf8))
        #endif
    }
}

extension LogLevel {
    var label: String {
        switch self {
        case .error: "ERROR"
        case .warn: "WARN"
        case .info: "INFO"
        case .debug: "DEBUG"
        case .trace: "TRACE"
        }
    }

    #if canImport(os)
        // OSLogType has no warning level; `.default` is what `Logger.notice` uses.
        var osLogType: OSLogType {
            switch self {
            case .error: .error
            case .warn: .default
            case .info: .info
            case .debug, .trace: .debug
            }
        }
    #endif
}
