// Typed access to a command's fields. A missing or mistyped field is a BadCommand (reply code -1),
// never a default: the protocol spells everything out.
package org.roomlink.conformance

import com.google.gson.JsonObject
import com.google.gson.JsonPrimitive

private val INTEGER = Regex("-?[0-9]+")

fun JsonObject.str(key: String): String {
    val value = get(key)
    if (value is JsonPrimitive && value.isString) return value.asString
    throw BadCommand("missing string \"$key\"")
}

fun JsonObject.bool(key: String): Boolean {
    val value = get(key)
    if (value is JsonPrimitive && value.isBoolean) return value.asBoolean
    throw BadCommand("missing bool \"$key\"")
}

fun JsonObject.obj(key: String): JsonObject =
    get(key) as? JsonObject ?: throw BadCommand("missing object \"$key\"")

/** A JSON integer only: Gson would silently truncate `1.5` or read `1e3`. */
fun JsonObject.long(key: String): Long {
    val value = get(key)
    if (value is JsonPrimitive && value.isNumber) {
        val text = value.asNumber.toString()
        if (INTEGER.matches(text)) text.toLongOrNull()?.let { return it }
    }
    throw BadCommand("missing integer \"$key\"")
}
