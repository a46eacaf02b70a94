//! A TCP fault proxy (skeleton; being implemented).
