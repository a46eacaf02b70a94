//! The reference room server (skeleton; being implemented).
