package org.roomlink

import android.content.Context

/**
 * Android set-up: call [init] once, before the first `wss://` login (e.g. in
 * `Application.onCreate`). `wss://` servers are then verified by Android's own trust manager, so
 * user-, enterprise- and MDM-installed CAs are trusted and revocation follows the OS. Without it a
 * `wss://` login fails with 1002030 (the log says why); `ws://` needs nothing.
 *
 * Android only (this folder is not compiled for the desktop JVM): it loads `libroomlink_ffi.so`
 * for JNI, beside JNA's own loading of the same library for the UniFFI calls.
 */
object RoomlinkAndroid {
    init {
        System.loadLibrary("roomlink_ffi")
    }

    /** Hands the application context to the platform certificate verifier (idempotent). */
    fun init(context: Context) = nativeInit(context.applicationContext)

    // ffi/src/android.rs: Java_org_roomlink_RoomlinkAndroid_nativeInit.
    @JvmStatic
    private external fun nativeInit(context: Context)
}
