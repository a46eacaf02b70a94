// The protocol's JSON line for one event (conformance/README.md, "Replies and events"), and its
// pattern match for `in_callback` hooks. Ordinals are the README's numbers.

import Roomlink

func eventLine(client: String, event: RoomEvent) -> [String: JSON] {
    var line: [String: JSON]
    switch event {
    case .roomStateChanged(let roomId, let reason, let errorCode, let extendedData):
        line = [
            "event": "room_state_changed", "room": .string(roomId), "reason": .int(Int64(reason.ordinal)),
            "code": .int(Int64(errorCode)), "extended_data": .object(extendedData.mapValues { .string($0) }),
        ]
    case .roomUserUpdate(let roomId, let updateType, let users):
        line = [
            "event": "room_user_update", "room": .string(roomId), "update": .int(Int64(updateType.ordinal)),
            "users": .array(users.map { ["user_id": .string($0.userId), "user_name": .string($0.userName)] }),
        ]
    case .roomOnlineUserCountUpdate(let roomId, let count):
        line = ["event": "room_online_user_count_update", "room": .string(roomId), "count": .int(Int64(count))]
    case .roomStreamUpdate(let roomId, let updateType, let streams, let reason):
        line = [
            "event": "room_stream_update", "room": .string(roomId), "update": .int(Int64(updateType.ordinal)),
            "streams": .array(
                streams.map {
                    ["user_id": .string($0.user.userId), "stream_id": .string($0.streamId), "extra_info": .string($0.extraInfo)]
                }),
            "reason": reason.map { .int(Int64($0.ordinal)) } ?? .null,
        ]
    case .roomTokenWillExpire(let roomId, let remainingSeconds):
        line = ["event": "room_token_will_expire", "room": .string(roomId), "remaining_seconds": .int(Int64(remainingSeconds))]
    }
    line["client"] = .string(client)
    return line
}

/// Every key of `when` equals the event line's, except `users`/`streams`, which hold sorted IDs.
func matches(_ when: [String: JSON], _ line: [String: JSON]) -> Bool {
    when.allSatisfy { key, want in
        let idKey: String
        switch key {
        case "users": idKey = "user_id"
        case "streams": idKey = "stream_id"
        default: return line[key] == want
        }
        let ids = (line[key]?.array ?? []).compactMap { $0[idKey]?.string }.sorted()
        return want == .array(ids.map { .string($0) })
    }
}

// The README's numbers for the binding's enums, spelled out so the mapping is checked here rather
// than assumed from declaration order.

extension RoomStateChangedReason {
    var ordinal: Int {
        switch self {
        case .logining: 0
        case .logined: 1
        case .loginFailed: 2
        case .reconnecting: 3
        case .reconnected: 4
        case .reconnectFailed: 5
        case .kickOut: 6
        case .logout: 7
        case .logoutFailed: 8
        }
    }
}

extension UpdateType {
    var ordinal: Int {
        switch self {
        case .add: 0
        case .delete: 1
        }
    }
}

extension StreamDeleteReason {
    var ordinal: Int {
        switch self {
        case .stopped: 0
        case .userLeft: 1
        case .userTimedOut: 2
        case .userKicked: 3
        case .resync: 4
        }
    }
}

extension ConnectionState {
    var number: Int {
        switch self {
        case .disconnected: 1
        case .connecting: 2
        case .connected: 3
        case .reconnecting: 4
        case .failed: 5
        }
    }
}
