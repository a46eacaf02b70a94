package org.roomlink

// Core's model types under their org.roomlink names. Their UniFFI code is generated from
// roomlink-proto, a UniFFI component of its own (proto/uniffi.toml), into package
// org.roomlink.proto: UniFFI's Kotlin declares its helpers (RustBuffer, UniffiLib, FfiConverter*)
// at package level in each component's file, so two components cannot share one package. These
// aliases keep `org.roomlink.RoomStateChangedReason` etc. what Kotlin code imports and names
// (enum entries, constructors and `when` branches included); Java and reflection see the classes
// in org.roomlink.proto.

/** ZEGO's room modes: one room at a time, or several at once. */
typealias RoomMode = org.roomlink.proto.RoomMode

/** A user as other members see them. */
typealias User = org.roomlink.proto.User

/** A published stream's metadata. */
typealias StreamInfo = org.roomlink.proto.StreamInfo

/** Whether an update adds or removes members (ZEGO's `ZegoUpdateType`). */
typealias UpdateType = org.roomlink.proto.UpdateType

/** Why a stream went away. */
typealias StreamDeleteReason = org.roomlink.proto.StreamDeleteReason

/** Why a room's state changed; ZEGO Express's ordinals exactly. */
typealias RoomStateChangedReason = org.roomlink.proto.RoomStateChangedReason

/** The coarse connection state, numbered as NERTC and Agora number theirs. */
typealias ConnectionState = org.roomlink.proto.ConnectionState
