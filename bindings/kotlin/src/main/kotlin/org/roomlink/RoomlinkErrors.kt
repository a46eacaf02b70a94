package org.roomlink

/**
 * The code of the README's table (e.g. 1002001 already logged in), whichever the case: every
 * case of the generated sealed class carries it, but UniFFI gives the base class no accessor.
 * So `catch (e: RoomlinkException) { e.code }` works without a `when`.
 */
val RoomlinkException.code: Int
    get() = when (this) {
        is RoomlinkException.InvalidArgument -> code
        is RoomlinkException.InvalidState -> code
        is RoomlinkException.Internal -> code
    }
