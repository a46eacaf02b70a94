//! UniFFI exports (Kotlin, Swift, Python).
