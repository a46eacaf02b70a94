// Unity only: drains MainThreadDispatcher every frame on the main thread, forwards the player's
// pause and resume to every engine (NotifyAppBackground/Foreground), and releases every engine
// when the player quits or the Editor leaves play mode (a native callback into an unloaded script
// domain would crash the Editor).
#if UNITY_5_3_OR_NEWER
using UnityEngine;

namespace Roomlink
{
    [AddComponentMenu("")] // created by the package itself, not added by hand
    public sealed class RoomlinkDispatcherBehaviour : MonoBehaviour
    {
        [RuntimeInitializeOnLoadMethod(RuntimeInitializeLoadType.BeforeSceneLoad)]
        static void Install()
        {
            var host = new GameObject("roomlink dispatcher");
            host.hideFlags = HideFlags.HideAndDontSave;
            DontDestroyOnLoad(host);
            host.AddComponent<RoomlinkDispatcherBehaviour>();
            Application.quitting += OnQuitting;
        }

        static void OnQuitting()
        {
            Application.quitting -= OnQuitting;
            RoomlinkEngine.DisposeAll();
            RoomlinkLog.Disable();
            MainThreadDispatcher.Clear();
        }

        void Update()
        {
            MainThreadDispatcher.Drain();
        }

        // iOS and Android suspend a paused player: every engine pings before it may be suspended
        // and probes its link when it comes back (RoomlinkEngine.NotifyAppBackground/Foreground).
        void OnApplicationPause(bool paused)
        {
            RoomlinkEngine.NotifyAllAppPaused(paused);
        }
    }
}
#endif
