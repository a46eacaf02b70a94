// Events per second delivered through the Kotlin/JNA listener (README "Benchmarks", issue 6).
//
// N engines log in to one room on a running server (scripts/bench.sh or run.sh starts one); once
// the room is quiet, engine 0 publishes K streams and unpublishes them in batches of 64 (the most
// one engine may publish at once), at most WINDOW batches ahead of the slowest listener, and the
// other N-1 engines' listeners count every event until each has seen all K removals. The figure
// is the events delivered to Kotlin listeners divided by the time from the first publish to the
// last listener's last removal: the whole path (server fan-out, each engine's socket and event
// thread, the UniFFI/JNA call into Kotlin), as an Android app receives it. The same workload as
// the C client (bench/ffi/c/event_rate.c) and the Rust one (bench/src/event_rate.rs).
//
// Usage: java ... org.roomlink.bench.EventRateKt --server URL --room ROOM --streams K [--keep-attached]
// with one "USER_ID TOKEN" line per engine on stdin. Prints one JSON line (integers only).
package org.roomlink.bench

import com.sun.jna.Native
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.locks.Condition
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock
import java.util.logging.Level
import kotlin.system.exitProcess
import org.roomlink.Engine
import org.roomlink.EngineConfig
import org.roomlink.RoomEvent
import org.roomlink.RoomEventListener
import org.roomlink.RoomMode
import org.roomlink.RoomStateChangedReason
import org.roomlink.RoomlinkLogging
import org.roomlink.UpdateType
import org.roomlink.User

/** How long any phase may take before the run counts as broken. */
const val PATIENCE_S = 60L

/** core's limit on one engine's published streams per room (MAX_PUBLISHED_STREAMS). */
const val MAX_PUBLISHED = 64

/**
 * Batches in flight: 4 x 128 updates per listener stay well inside the server's 1024-frame queue
 * per connection, which closes a listener that falls further behind (one the OS did not schedule
 * for a while on a loaded machine); the window is far more than the pipeline needs.
 */
const val WINDOW = 4

/** Guards every Counter's removedSeen; `windowMoved` is signalled at each whole batch of removals. */
val window = ReentrantLock()
val windowMoved: Condition = window.newCondition()

class Counter(private val engines: Int, private val streams: Int, private val keepAttached: Boolean) :
    RoomEventListener {
    val loggedIn = CountDownLatch(1)
    /** Counts down when this engine sees the whole room (count update == engines). */
    val roomFull = CountDownLatch(1)
    /** Counts down when this engine has seen all K streams removed. */
    val done = CountDownLatch(1)
    val events = AtomicLong()
    @Volatile var measuring = false
    @Volatile var doneAt = 0L
    @Volatile var lastCount = 0
    private var removed = 0 // the event thread's only
    /** `removed` at the last whole batch, for the publisher's window (guarded by `window`). */
    var removedSeen = 0

    override fun onEvent(event: RoomEvent) {
        // JNA attaches the engine's native event thread to the JVM for each callback and detaches
        // it after (a new java.lang.Thread per event); this keeps it attached until it exits.
        if (keepAttached) Native.detach(false)
        if (measuring) events.incrementAndGet()
        when (event) {
            is RoomEvent.RoomStateChanged ->
                if (event.reason == RoomStateChangedReason.LOGINED) loggedIn.countDown()
            is RoomEvent.RoomOnlineUserCountUpdate -> {
                lastCount = event.count.toInt()
                if (lastCount == engines) roomFull.countDown()
            }
            is RoomEvent.RoomStreamUpdate -> if (event.updateType == UpdateType.DELETE) {
                val before = removed
                removed += event.streams.size
                if (removed == streams) doneAt = System.nanoTime()
                if (removed == streams || removed / MAX_PUBLISHED != before / MAX_PUBLISHED) {
                    window.withLock {
                        removedSeen = removed
                        windowMoved.signalAll()
                    }
                }
                if (removed == streams) done.countDown()
            }
            else -> {}
        }
    }
}

fun await(what: String, counters: List<Counter>, latch: (Counter) -> CountDownLatch) {
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S)
    for ((i, counter) in counters.withIndex()) {
        val left = deadline - System.nanoTime()
        if (!latch(counter).await(left.coerceAtLeast(0), TimeUnit.NANOSECONDS)) {
            System.err.println("event-rate: no $what within ${PATIENCE_S}s (engine $i, room count ${counter.lastCount})")
            exitProcess(1)
        }
    }
}

fun awaitWindow(listeners: List<Counter>, behind: Int) {
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S)
    window.withLock {
        while (listeners.any { it.removedSeen < behind }) {
            val left = deadline - System.nanoTime()
            if (left <= 0) {
                System.err.println("event-rate: the listeners fell behind for ${PATIENCE_S}s (window at $behind removals)")
                exitProcess(1)
            }
            windowMoved.awaitNanos(left)
        }
    }
}

fun main(args: Array<String>) {
    val keepAttached = "--keep-attached" in args
    val opts = args.filter { it != "--keep-attached" }.chunked(2).associate { it[0] to it.getOrElse(1) { "" } }
    val server = opts["--server"] ?: error("--server URL is required")
    val room = opts["--room"] ?: error("--room ROOM is required")
    val streams = opts["--streams"]?.toIntOrNull()?.takeIf { it > 0 } ?: error("--streams K (> 0) is required")
    val users = generateSequence(::readLine).filter { it.isNotBlank() }.map { line ->
        val (id, token) = line.trim().split(" ", limit = 2)
        id to token
    }.toList()
    if (users.size < 2) error("need at least 2 \"USER_ID TOKEN\" lines on stdin")
    RoomlinkLogging.install(Level.WARNING)

    val config = EngineConfig(serverUrl = server, roomMode = RoomMode.SINGLE_ROOM)
    val counters = users.map { Counter(users.size, streams, keepAttached) }
    val engines = counters.map { Engine(config, it) }
    users.zip(engines).forEach { (user, engine) ->
        engine.loginRoom(room, User(user.first, user.first), user.second, userUpdate = true)
    }
    await("login", counters) { it.loggedIn }
    await("full room", counters) { it.roomFull }

    val listeners = counters.drop(1)
    listeners.forEach { it.measuring = true }
    val start = System.nanoTime()
    val publisher = engines[0]
    // An engine publishes at most 64 streams at once: publish and unpublish them in batches.
    for ((b, batch) in (0 until streams).chunked(MAX_PUBLISHED).withIndex()) {
        // Whole batches every listener must have seen before this one goes out.
        val behind = (b + 1 - WINDOW) * MAX_PUBLISHED
        if (behind > 0) awaitWindow(listeners, behind)
        for (i in batch) publisher.publishStream(room, "s$i", "")
        for (i in batch) publisher.unpublishStream(room, "s$i")
    }
    await("removal of all $streams streams", listeners) { it.done }
    val end = listeners.maxOf { it.doneAt }
    listeners.forEach { it.measuring = false }
    val events = listeners.sumOf { it.events.get() }

    engines.forEach { it.close() } // destroys: logs out, joins the engine threads
    val elapsedUs = (end - start) / 1000
    println(
        "{\"engines\":${users.size},\"streams\":$streams,\"keep_attached\":$keepAttached,\"events\":$events," +
            "\"elapsed_us\":$elapsedUs,\"events_per_s\":${events * 1_000_000 / elapsedUs.coerceAtLeast(1)}}"
    )
    exitProcess(0)
}
