package org.roomlink

import java.util.logging.Level
import java.util.logging.Logger

/**
 * Forwards roomlink's log records to `java.util.logging`, logger `roomlink`: Android routes it to
 * logcat, a JVM's default handler to stderr.
 *
 * ```
 * RoomlinkLogging.install(Level.INFO)   // once, before creating engines
 * ```
 *
 * Records arrive on roomlink's threads (the engine's event thread among them); the level given to
 * [install] is applied in the native library, so records below it are never formatted.
 */
object RoomlinkLogging {
    /** The logger every record goes to; the record's source class is roomlink's module path. */
    val logger: Logger = Logger.getLogger("roomlink")

    private object Sink : LogSink {
        override fun log(level: LogLevel, target: String, message: String) {
            logger.logp(julLevel(level), target, null, message)
        }
    }

    /** Sends roomlink's records at or above [level] to [logger] (replacing any previous sink). */
    @JvmStatic
    fun install(level: Level = Level.INFO) {
        setLogSink(Sink, rustLevel(level))
    }

    /** Stops forwarding. */
    @JvmStatic
    fun uninstall() {
        setLogSink(null, LogLevel.ERROR)
    }

    private fun julLevel(level: LogLevel): Level = when (level) {
        LogLevel.ERROR -> Level.SEVERE
        LogLevel.WARN -> Level.WARNING
        LogLevel.INFO -> Level.INFO
        LogLevel.DEBUG -> Level.FINE
        LogLevel.TRACE -> Level.FINEST
    }

    private fun rustLevel(level: Level): LogLevel = when {
        level.intValue() >= Level.SEVERE.intValue() -> LogLevel.ERROR
        level.intValue() >= Level.WARNING.intValue() -> LogLevel.WARN
        level.intValue() >= Level.INFO.intValue() -> LogLevel.INFO
        level.intValue() >= Level.FINE.intValue() -> LogLevel.DEBUG
        else -> LogLevel.TRACE
    }
}
