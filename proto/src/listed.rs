//! `listed_enum!`: a fieldless enum that can list itself, so the tables other languages need (the
//! C header's `#define`s, written by build.rs, which compiles this file and the enums' files into
//! itself) come from the one definition instead of hand-written mirrors.
//!
//! The enum is written as usual inside the macro; it gets `ALL` (every variant, in order),
//! `as_str` (the variant's name) and `doc` (its `///` text, one line). Adding a variant updates all
//! three, so a generated table cannot miss it.
//!
//! A discriminant is matched as one token (`tt`), not as `literal`: a `literal` fragment reaches a
//! derive wrapped in an invisible group, which `uniffi::Enum` (feature `uniffi`) rejects as "not a
//! literal".

macro_rules! listed_enum {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $value:tt, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $ty {
            $( $(#[doc = $doc])* $variant = $value, )+
        }

        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: [Self; [$($value),+].len()] = [$(Self::$variant),+];

            /// The variant's name, as written in Rust.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => stringify!($variant), )+
                }
            }

            /// The variant's doc comment (its lines joined; empty when it has none).
            pub const fn doc(self) -> &'static str {
                match self {
                    $( Self::$variant => concat!($($doc),*), )+
                }
            }
        }
    };
}
