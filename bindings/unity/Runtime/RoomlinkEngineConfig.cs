using System;

namespace Roomlink
{
    /// <summary>An engine's settings. The constructor takes the library's defaults; set what
    /// you need before passing it to <see cref="RoomlinkEngine"/> (which copies it).</summary>
    public sealed class RoomlinkEngineConfig
    {
        /// <summary>ws://host:port/path or wss://...</summary>
        public string ServerUrl { get; set; }
        public RoomMode RoomMode { get; set; }
        /// <summary>How often a ping is sent while the link is idle (default 10 000).</summary>
        public ulong HeartbeatIntervalMs { get; set; }
        /// <summary>No inbound frame for this long = link lost (default 25 000; above the heartbeat).</summary>
        public ulong PingTimeoutMs { get; set; }
        /// <summary>A login not done after this long fails with 1002053 (default 30 000).</summary>
        public ulong LoginTimeoutMs { get; set; }
        /// <summary>After a link loss, retry this long before ReconnectFailed (default 1 200 000).</summary>
        public ulong RetryWindowMs { get; set; }
        /// <summary>Full-jitter exponential backoff base (default 300).</summary>
        public ulong BackoffBaseMs { get; set; }
        /// <summary>Backoff cap, at least the base (default 8 000).</summary>
        public ulong BackoffCapMs { get; set; }
        /// <summary>OnRoomTokenWillExpire fires this long before the token expires (default 30 000).</summary>
        public ulong TokenWarningMs { get; set; }
        /// <summary>Larger frames are a protocol error (default 65 536; at least 1024).</summary>
        public ulong MaxFrameBytes { get; set; }
        /// <summary>More servers, tried in order after ServerUrl: a failed attempt moves on to the
        /// next at once; after a full round of failures the backoff applies (default none).</summary>
        public string[] MoreServerUrls { get; set; }
        /// <summary>An HTTP proxy, <c>http://[user:pass@]host:port</c>, that the link is tunnelled
        /// through with CONNECT (default null: connect directly). Its credentials are never logged.</summary>
        public string ProxyUrl { get; set; }
        /// <summary>A PEM bundle of CA certificates to trust for wss:// instead of the platform's
        /// trust store (pinning the app's own CA); default null: the OS verifies, so CAs an
        /// enterprise or MDM profile installs are trusted. One without a certificate is refused.</summary>
        public byte[] TlsCaPem { get; set; }

        /// <summary>The library's defaults (roomlink_engine_config_default) for
        /// <paramref name="serverUrl"/>.</summary>
        public RoomlinkEngineConfig(string serverUrl)
        {
            Native.EngineConfig d;
            RoomlinkException.Check(Native.roomlink_engine_config_default(out d));
            ServerUrl = serverUrl;
            RoomMode = (RoomMode)d.room_mode;
            HeartbeatIntervalMs = d.heartbeat_interval_ms;
            PingTimeoutMs = d.ping_timeout_ms;
            LoginTimeoutMs = d.login_timeout_ms;
            RetryWindowMs = d.retry_window_ms;
            BackoffBaseMs = d.backoff_base_ms;
            BackoffCapMs = d.backoff_cap_ms;
            TokenWarningMs = d.token_warning_ms;
            MaxFrameBytes = d.max_frame_bytes;
            MoreServerUrls = new string[0];
        }

        /// <summary>The C struct; <paramref name="serverUrl"/> is the pinned UTF-8 URL,
        /// <paramref name="moreUrls"/> the pinned array of <paramref name="moreCount"/> pinned URLs,
        /// <paramref name="proxyUrl"/> the pinned UTF-8 proxy URL or zero for none, <paramref name="caPem"/>
        /// the pinned <see cref="TlsCaPem"/> or zero for none.</summary>
        internal Native.EngineConfig ToNative(IntPtr serverUrl, IntPtr moreUrls, int moreCount, IntPtr proxyUrl,
            IntPtr caPem)
        {
            return new Native.EngineConfig
            {
                server_url = serverUrl,
                room_mode = (uint)RoomMode,
                heartbeat_interval_ms = HeartbeatIntervalMs,
                ping_timeout_ms = PingTimeoutMs,
                login_timeout_ms = LoginTimeoutMs,
                retry_window_ms = RetryWindowMs,
                backoff_base_ms = BackoffBaseMs,
                backoff_cap_ms = BackoffCapMs,
                token_warning_ms = TokenWarningMs,
                max_frame_bytes = MaxFrameBytes,
                more_server_urls = moreUrls,
                more_server_urls_count = (UIntPtr)moreCount,
                proxy_url = proxyUrl,
                tls_ca_pem = caPem,
                tls_ca_pem_len = (UIntPtr)(caPem == IntPtr.Zero ? 0 : TlsCaPem.Length),
            };
        }
    }
}
