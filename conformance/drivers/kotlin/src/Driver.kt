// The Kotlin conformance driver: the UniFFI-generated Kotlin bindings (package org.roomlink, over
// JNA, as an Android app uses them) behind the driver protocol of conformance/README.md. It has
// the shape of the Rust reference driver (conformance/drivers/rust/src/main.rs).
package org.roomlink.conformance

import com.google.gson.JsonElement
import com.google.gson.JsonNull
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import com.google.gson.JsonPrimitive
import java.io.BufferedReader
import java.io.FileDescriptor
import java.io.FileOutputStream
import java.io.InputStreamReader
import java.io.OutputStreamWriter
import java.io.PrintStream
import java.util.logging.Level
import kotlin.system.exitProcess
import org.roomlink.Engine
import org.roomlink.RoomEvent
import org.roomlink.RoomEventListener
import org.roomlink.RoomlinkLogging
import org.roomlink.User

/** A command the driver cannot carry out: the reply is `code` -1 with this message. */
class BadCommand(message: String) : Exception(message)

/** A one-shot `in_callback` hook: run [then] inside the callback of the next event matching [whenPattern]. */
class Hook(val id: JsonElement, val whenPattern: JsonObject, val then: JsonObject)

/** One protocol line at a time on the real stdout; everything else printed goes to stderr. */
class Output {
    private val writer = OutputStreamWriter(FileOutputStream(FileDescriptor.out), Charsets.UTF_8).buffered()

    @Synchronized
    fun print(line: JsonObject) {
        // The lock is held for the whole line, so lines from the event threads never interleave.
        // JsonElement.toString writes nulls (a stream update's `"reason":null` must be present) and
        // integers as integers.
        writer.write(line.toString())
        writer.write("\n")
        writer.flush()
    }
}

fun reply(code: Int): JsonObject = JsonObject().apply { addProperty("code", code) }

fun describe(e: Exception): String =
    if (e is BadCommand) e.message ?: "bad command" else "${e.javaClass.name}: ${e.message}"

fun failure(message: String): JsonObject = reply(-1).apply { addProperty("error", message) }

class Driver(private val out: Output) {
    private val engines = HashMap<String, Engine>() // guarded by itself
    /** Clients whose engine was destroyed: `exit` must not destroy them again. */
    private val destroyed = HashSet<String>() // guarded by itself
    /** Per client, oldest armed first. */
    private val hooks = HashMap<String, MutableList<Hook>>() // guarded by itself

    private fun engine(client: String): Engine =
        synchronized(engines) { engines[client] } ?: throw BadCommand("no client")

    private fun create(client: String, config: JsonObject): JsonObject {
        if (synchronized(engines) { engines.containsKey(client) }) throw BadCommand("client \"$client\" exists")
        val listener = object : RoomEventListener {
            override fun onEvent(event: RoomEvent) = onEvent(client, event)
        }
        return roomlinkCall {
            val engine = Engine(engineConfig(config), listener)
            synchronized(engines) { engines[client] = engine }
        }
    }

    /** Runs on the engine's event thread: print the event, then fire a matching hook in place. */
    private fun onEvent(client: String, event: RoomEvent) {
        val line = eventLine(client, event)
        val hook = synchronized(hooks) {
            // Choosing the hook and printing the line under one lock: a hook armed after this
            // event's line was printed never fires on it (hooks see only later events).
            val list = hooks.getOrPut(client) { mutableListOf() }
            val at = list.indexOfFirst { matches(it.whenPattern, line) }
            out.print(line)
            if (at >= 0) list.removeAt(at) else null
        } ?: return
        val result = try {
            call(client, hook.then)
        } catch (e: Exception) {
            failure(describe(e))
        }
        result.add("hook", hook.id)
        result.add("cmd", hook.then.get("cmd"))
        out.print(JsonObject().apply {
            addProperty("client", client)
            add("callback_result", result)
        })
    }

    /** One engine call (a command, or a hook's `then`); the reply's fields except `id`. */
    private fun call(client: String, cmd: JsonObject): JsonObject {
        val name = cmd.str("cmd")
        val engine = engine(client)
        return when (name) {
            "destroy" -> {
                // Marked first: exit must never destroy it again, even if this destroy is in flight.
                // The handle stays: later calls on it must return 1900005 (engine destroyed).
                synchronized(destroyed) { destroyed.add(client) }
                engine.destroyEngine() // delivers this engine's last events before returning
                reply(0)
            }
            // A missing field throws BadCommand out of roomlinkCall, which catches only the
            // binding's RoomlinkException.
            "login" -> roomlinkCall {
                val user = User(cmd.str("user_id"), cmd.str("user_name"))
                engine.loginRoom(cmd.str("room"), user, cmd.str("token"), cmd.bool("user_update"))
            }
            "logout" -> roomlinkCall { engine.logoutRoom(cmd.str("room")) }
            "switch_room" -> roomlinkCall { engine.switchRoom(cmd.str("from"), cmd.str("to"), cmd.str("token")) }
            "renew_token" -> roomlinkCall { engine.renewToken(cmd.str("room"), cmd.str("token")) }
            "network" -> {
                engine.onNetworkChanged(cmd.bool("available"))
                reply(0)
            }
            "app" -> {
                when (val state = cmd.str("state")) {
                    "background" -> engine.onAppBackground()
                    "foreground" -> engine.onAppForeground()
                    else -> throw BadCommand("unknown app state \"$state\"")
                }
                reply(0)
            }
            "room_state" -> reply(0).apply { addProperty("state", wireState(engine.roomState(cmd.str("room")))) }
            "publish_stream" -> roomlinkCall {
                engine.publishStream(cmd.str("room"), cmd.str("stream_id"), cmd.str("extra_info"))
            }
            "unpublish_stream" -> roomlinkCall { engine.unpublishStream(cmd.str("room"), cmd.str("stream_id")) }
            else -> throw BadCommand("unknown cmd \"$name\"")
        }
    }

    /** One stdin command → its reply's fields except `id`. */
    fun command(cmd: JsonObject): JsonObject {
        val client = cmd.str("client")
        return when (cmd.str("cmd")) {
            "create" -> create(client, cmd.obj("config"))
            "in_callback" -> {
                val hook = Hook(cmd.get("id") ?: JsonNull.INSTANCE, cmd.obj("when"), cmd.obj("then"))
                hook.then.str("cmd")
                engine(client)
                synchronized(hooks) { hooks.getOrPut(client) { mutableListOf() }.add(hook) }
                reply(0)
            }
            else -> call(client, cmd)
        }
    }

    /** `exit`: destroys every engine not destroyed yet (never twice), then frees every handle. */
    fun shutdown() {
        val all = synchronized(engines) { engines.toMap().also { engines.clear() } }
        val done = synchronized(destroyed) { destroyed.toSet() }
        all.filterKeys { it !in done }.values.forEach { it.destroyEngine() }
        all.values.forEach { it.close() }
    }
}

fun main() {
    // Only protocol lines may reach stdout: anything else printing there (a library's println)
    // goes to stderr instead.
    val out = Output()
    System.setOut(PrintStream(FileOutputStream(FileDescriptor.err), true))
    RoomlinkLogging.install(Level.INFO)
    val driver = Driver(out)
    out.print(JsonObject().apply {
        addProperty("ready", true)
        addProperty("driver", "kotlin")
    })
    val stdin = BufferedReader(InputStreamReader(System.`in`, Charsets.UTF_8))
    while (true) {
        val line = stdin.readLine() ?: break
        val cmd = try {
            JsonParser.parseString(line) as? JsonObject ?: throw IllegalArgumentException("not a JSON object")
        } catch (e: Exception) {
            out.print(failure("bad JSON: ${e.message}").apply { add("id", JsonNull.INSTANCE) })
            continue
        }
        if (cmd.get("cmd") == JsonPrimitive("exit")) {
            driver.shutdown()
            out.print(reply(0).apply { add("id", cmd.get("id") ?: JsonNull.INSTANCE) })
            break
        }
        val result = try {
            driver.command(cmd)
        } catch (e: Exception) {
            // BadCommand, or anything unexpected (the binding's InternalException): the reply
            // says what, and the driver stays up for the orchestrator to report it.
            failure(describe(e))
        }
        result.add("id", cmd.get("id") ?: JsonNull.INSTANCE)
        out.print(result)
    }
    // The engines' event threads may be attached to the JVM as non-daemon threads: end here.
    exitProcess(0)
}
