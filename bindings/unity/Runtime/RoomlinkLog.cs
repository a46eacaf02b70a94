// roomlink's log records (the Rust `log` crate, through roomlink_set_log_callback) forwarded to
// the host's logger: UnityEngine.Debug inside Unity, standard error elsewhere. Also where the
// package reports an exception thrown by an event handler (it must not unwind into native code).

using System;
using System.Runtime.InteropServices;
using AOT;

namespace Roomlink
{
    public static class RoomlinkLog
    {
        // The delegate lives as long as the process: native code keeps its function pointer.
        static readonly Native.LogFn LogDelegate = OnLog;
        static readonly object Gate = new object();

        /// <summary>Forwards records at <paramref name="maxLevel"/> and above; replaces the
        /// previous setting. One logger per process (the last setter wins).</summary>
        public static void Enable(RoomlinkLogLevel maxLevel)
        {
            lock (Gate)
            {
                var fn = Marshal.GetFunctionPointerForDelegate(LogDelegate);
                RoomlinkException.Check(Native.roomlink_set_log_callback(fn, IntPtr.Zero, (uint)maxLevel));
            }
        }

        /// <summary>Stops forwarding. When this returns no record is being written any more.</summary>
        public static void Disable()
        {
            lock (Gate)
            {
                RoomlinkException.Check(Native.roomlink_set_log_callback(IntPtr.Zero, IntPtr.Zero,
                    (uint)RoomlinkLogLevel.Off));
            }
        }

        // Runs on any thread, concurrently. Only the static-string functions may be called in
        // here (the header's rule), and nothing may escape into native code.
        [MonoPInvokeCallback(typeof(Native.LogFn))]
        static void OnLog(IntPtr userData, uint level, IntPtr target, IntPtr message)
        {
            try
            {
                Write((RoomlinkLogLevel)level, Utf8.Decode(target), Utf8.Decode(message));
            }
            catch (Exception)
            {
                // Nowhere left to report it; a lost log line must not take the process down.
            }
        }

        static void Write(RoomlinkLogLevel level, string target, string message)
        {
#if UNITY_5_3_OR_NEWER
            string line = "[roomlink] " + target + ": " + message;
            switch (level)
            {
                case RoomlinkLogLevel.Error:
                    UnityEngine.Debug.LogError(line);
                    break;
                case RoomlinkLogLevel.Warn:
                    UnityEngine.Debug.LogWarning(line);
                    break;
                default:
                    UnityEngine.Debug.Log(line);
                    break;
            }
#else
            Console.Error.WriteLine("[roomlink " + level.ToString().ToUpperInvariant() + " " + target + "] " + message);
#endif
        }

        /// <summary>Runs an event handler; an exception it throws is logged, not propagated.</summary>
        internal static void Guard(Action handler)
        {
            try
            {
                handler();
            }
            catch (Exception e)
            {
                Exception(e);
            }
        }

        internal static void Exception(Exception e)
        {
            try
            {
#if UNITY_5_3_OR_NEWER
                UnityEngine.Debug.LogException(e);
#else
                Console.Error.WriteLine("[roomlink] an event handler threw: " + e);
#endif
            }
            catch (Exception)
            {
                // As in OnLog: reporting must never throw into native code.
            }
        }
    }
}
