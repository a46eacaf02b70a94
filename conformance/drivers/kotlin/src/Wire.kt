// The protocol's view of the bindings' types: engine config from a `create` command, event lines,
// hook patterns, and the integers (ZEGO ordinals, roomlink codes) the protocol writes.
package org.roomlink.conformance

import com.google.gson.JsonArray
import com.google.gson.JsonNull
import com.google.gson.JsonObject
import com.google.gson.JsonPrimitive
import org.roomlink.ConnectionState
import org.roomlink.EngineConfig
import org.roomlink.RoomEvent
import org.roomlink.RoomMode
import org.roomlink.RoomlinkException
import org.roomlink.code

fun engineConfig(config: JsonObject): EngineConfig {
    val roomMode = when (val mode = config.str("room_mode")) {
        "single_room" -> RoomMode.SINGLE_ROOM
        "multi_room" -> RoomMode.MULTI_ROOM
        else -> throw BadCommand("unknown room_mode \"$mode\"")
    }
    fun ms(key: String): ULong = config.long(key).takeIf { it >= 0 }?.toULong()
        ?: throw BadCommand("negative config.$key")
    return EngineConfig(
        serverUrl = config.str("server_url"),
        roomMode = roomMode,
        heartbeatIntervalMs = ms("heartbeat_interval_ms"),
        pingTimeoutMs = ms("ping_timeout_ms"),
        loginTimeoutMs = ms("login_timeout_ms"),
        retryWindowMs = ms("retry_window_ms"),
        backoffBaseMs = ms("backoff_base_ms"),
        backoffCapMs = ms("backoff_cap_ms"),
        tokenWarningMs = ms("token_warning_ms"),
        // Optional: further URLs (cluster-only scenarios) and a CA to pin (wss:// scenarios).
        moreServerUrls = config.get("more_server_urls")?.let { urls ->
            (urls as? JsonArray ?: throw BadCommand("config.more_server_urls must be an array")).map {
                (it as? JsonPrimitive)?.takeIf { p -> p.isString }?.asString
                    ?: throw BadCommand("config.more_server_urls: not a string")
            }
        } ?: emptyList(),
        tlsCaPem = if (config.has("tls_ca_pem")) config.str("tls_ca_pem").toByteArray() else null,
    )
}

/** Runs one fallible engine call: its reply is `code` 0, or the roomlink code it threw. */
inline fun roomlinkCall(body: () -> Unit): JsonObject = try {
    body()
    reply(0)
} catch (e: RoomlinkException) {
    reply(e.code)
}

fun wireState(state: ConnectionState): Int = state.value.toInt()

/** The spec's JSON line for one event (ordinals as numbers). */
fun eventLine(client: String, event: RoomEvent): JsonObject {
    val line = JsonObject()
    line.addProperty("client", client)
    when (event) {
        is RoomEvent.RoomStateChanged -> {
            line.addProperty("event", "room_state_changed")
            line.addProperty("room", event.roomId)
            line.addProperty("reason", event.reason.value.toInt())
            line.addProperty("code", event.errorCode)
            line.add("extended_data", JsonObject().apply {
                event.extendedData.toSortedMap().forEach { (k, v) -> addProperty(k, v) }
            })
        }
        is RoomEvent.RoomUserUpdate -> {
            line.addProperty("event", "room_user_update")
            line.addProperty("room", event.roomId)
            line.addProperty("update", event.updateType.value.toInt())
            line.add("users", JsonArray().apply {
                event.users.forEach { user ->
                    add(JsonObject().apply {
                        addProperty("user_id", user.userId)
                        addProperty("user_name", user.userName)
                    })
                }
            })
        }
        is RoomEvent.RoomOnlineUserCountUpdate -> {
            line.addProperty("event", "room_online_user_count_update")
            line.addProperty("room", event.roomId)
            line.addProperty("count", event.count.toLong())
        }
        is RoomEvent.RoomStreamUpdate -> {
            line.addProperty("event", "room_stream_update")
            line.addProperty("room", event.roomId)
            line.addProperty("update", event.updateType.value.toInt())
            line.add("streams", JsonArray().apply {
                event.streams.forEach { stream ->
                    add(JsonObject().apply {
                        addProperty("user_id", stream.user.userId)
                        addProperty("stream_id", stream.streamId)
                        addProperty("extra_info", stream.extraInfo)
                    })
                }
            })
            // The key is always present: null for Add.
            line.add("reason", event.reason?.let { JsonPrimitive(it.value.toInt()) } ?: JsonNull.INSTANCE)
        }
        is RoomEvent.RoomTokenWillExpire -> {
            line.addProperty("event", "room_token_will_expire")
            line.addProperty("room", event.roomId)
            line.addProperty("remaining_seconds", event.remainingSeconds.toLong())
        }
    }
    return line
}

/**
 * The spec's pattern match: every key of [pattern] equals the event line's field, except `users`
 * and `streams`, which compare the sorted IDs.
 */
fun matches(pattern: JsonObject, line: JsonObject): Boolean = pattern.entrySet().all { (key, want) ->
    val idKey = when (key) {
        "users" -> "user_id"
        "streams" -> "stream_id"
        else -> return@all line.get(key) == want
    }
    val ids = (line.get(key) as? JsonArray ?: JsonArray())
        .map { (it as JsonObject).get(idKey).asString }
        .sorted()
    val wanted = (want as? JsonArray)?.map { (it as? JsonPrimitive)?.takeIf { p -> p.isString }?.asString }
    ids == wanted
}
