// The protocol's JSON line for one event (conformance/README.md, "Replies and events"), and its
// pattern match for `in_callback` hooks. The binding's enums carry the README's numbers as
// their raw values (ZEGO's ordinals, ConnectionState 1...5).

import Roomlink

func eventLine(client: String, event: RoomEvent) -> [String: JSON] {
    var line: [String: JSON]
    switch event {
    case .roomStateChanged(let roomId, let reason, let errorCode, let extendedData):
        line = [
            "event": "room_state_changed", "room": .string(roomId), "reason": .int(Int64(reason.rawValue)),
            "code": .int(Int64(errorCode)), "extended_data": .object(extendedData.mapValues { .string($0) }),
        ]
    case .roomUserUpdate(let roomId, let updateType, let users):
        line = [
            "event": "room_user_update", "room": .string(roomId), "update": .int(Int64(updateType.rawValue)),
            "users": .array(users.map { ["user_id": .string($0.userId), "user_name": .string($0.userName)] }),
        ]
    case .roomOnlineUserCountUpdate(let roomId, let count):
        line = ["event": "room_online_user_count_update", "room": .string(roomId), "count": .int(Int64(count))]
    case .roomStreamUpdate(let roomId, let updateType, let streams, let reason):
        line = [
            "event": "room_stream_update", "room": .string(roomId), "update": .int(Int64(updateType.rawValue)),
            "streams": .array(
                streams.map {
                    ["user_id": .string($0.user.userId), "stream_id": .string($0.streamId), "extra_info": .string($0.extraInfo)]
                }),
            "reason": reason.map { .int(Int64($0.rawValue)) } ?? .null,
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
