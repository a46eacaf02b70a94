"""The Python conformance driver: roomlink's UniFFI Python binding behind the driver protocol of
conformance/README.md (JSON lines: commands on stdin; replies, events and callback results on
stdout). Same shape as the Rust reference driver (conformance/drivers/rust/src/main.rs).

Python 3.11 standard library only; the `roomlink` package is staged by `driver.sh build`.
"""

import json
import logging
import sys
import threading

import roomlink

# Only protocol lines may reach stdout: everything else (logs) goes to stderr.
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
roomlink.forward_logs_to_logging(logging.INFO)


class CommandError(Exception):
    """A command the driver cannot carry out (reply code -1)."""


def str_of(cmd, key):
    value = cmd.get(key)
    if not isinstance(value, str):
        raise CommandError(f"missing string {key!r}")
    return value


def bool_of(cmd, key):
    value = cmd.get(key)
    if not isinstance(value, bool):
        raise CommandError(f"missing bool {key!r}")
    return value


def ms_of(config, key):
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CommandError(f"missing integer config.{key}")
    return value


def call_code(fn, *args):
    """Runs a fallible binding call: code 0, or the roomlink code of the error it raised."""
    try:
        fn(*args)
    except roomlink.RoomlinkError as error:
        return {"code": error.code}
    return {"code": 0}


def event_line(client, event):
    """The spec's JSON line for one event (ordinals as numbers)."""
    E = roomlink.RoomEvent
    if isinstance(event, E.ROOM_STATE_CHANGED):
        line = {
            "event": "room_state_changed",
            "reason": event.reason.value,
            "code": event.error_code,
            "extended_data": dict(event.extended_data),
        }
    elif isinstance(event, E.ROOM_USER_UPDATE):
        line = {
            "event": "room_user_update",
            "update": event.update_type.value,
            "users": [{"user_id": u.user_id, "user_name": u.user_name} for u in event.users],
        }
    elif isinstance(event, E.ROOM_ONLINE_USER_COUNT_UPDATE):
        line = {"event": "room_online_user_count_update", "count": event.count}
    elif isinstance(event, E.ROOM_STREAM_UPDATE):
        line = {
            "event": "room_stream_update",
            "update": event.update_type.value,
            "streams": [
                {"user_id": s.user.user_id, "stream_id": s.stream_id, "extra_info": s.extra_info}
                for s in event.streams
            ],
            "reason": None if event.reason is None else event.reason.value,
        }
    elif isinstance(event, E.ROOM_TOKEN_WILL_EXPIRE):
        line = {"event": "room_token_will_expire", "remaining_seconds": event.remaining_seconds}
    else:
        raise TypeError(f"unknown event {event!r}")
    line["client"] = client
    line["room"] = event.room_id
    return line


def matches(when, line):
    """Every key of `when` equals the event's, except users/streams: sorted IDs, compared exactly."""
    for key, want in when.items():
        if key in ("users", "streams"):
            id_key = "user_id" if key == "users" else "stream_id"
            ids = sorted(item[id_key] for item in line.get(key) or [])
            if want != ids:
                return False
        elif key not in line or line[key] != want or type(line[key]) is not type(want):
            return False
    return True


class Listener(roomlink.RoomEventListener):
    def __init__(self, driver, client):
        self.driver = driver
        self.client = client

    def on_event(self, event):
        self.driver.on_event(self.client, event)


class Driver:
    def __init__(self):
        self.out_lock = threading.Lock()
        self.lock = threading.Lock()  # engines, destroyed, hooks
        self.engines = {}
        # Clients whose engine was destroyed: exit must not destroy them again.
        self.destroyed = set()
        # Per client, oldest armed first: (id, when, then).
        self.hooks = {}

    def print(self, line):
        # One lock for the whole line, so lines from the event threads never interleave.
        text = json.dumps(line, separators=(",", ":"))
        with self.out_lock:
            try:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass  # nobody to tell: the orchestrator has already failed the run

    def engine(self, client):
        with self.lock:
            engine = self.engines.get(client)
        if engine is None:
            raise CommandError("no client")
        return engine

    def create(self, client, config):
        if not isinstance(config, dict):
            raise CommandError("missing object 'config'")
        with self.lock:
            if client in self.engines:
                raise CommandError(f"client {client!r} exists")
        modes = {"single_room": roomlink.RoomMode.SINGLE_ROOM, "multi_room": roomlink.RoomMode.MULTI_ROOM}
        mode = str_of(config, "room_mode")
        if mode not in modes:
            raise CommandError(f"unknown room_mode {mode!r}")
        engine_config = roomlink.default_engine_config(str_of(config, "server_url"))
        engine_config.room_mode = modes[mode]
        for key in (
            "heartbeat_interval_ms",
            "ping_timeout_ms",
            "login_timeout_ms",
            "retry_window_ms",
            "backoff_base_ms",
            "backoff_cap_ms",
            "token_warning_ms",
        ):
            setattr(engine_config, key, ms_of(config, key))
        # Optional: further URLs (cluster-only scenarios) and a CA to pin (wss:// scenarios).
        if "more_server_urls" in config:
            urls = config["more_server_urls"]
            if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                raise CommandError("config.more_server_urls must be an array of strings")
            engine_config.more_server_urls = urls
        if "tls_ca_pem" in config:
            engine_config.tls_ca_pem = str_of(config, "tls_ca_pem").encode()
        try:
            engine = roomlink.Engine(engine_config, Listener(self, client))
        except roomlink.RoomlinkError as error:
            return {"code": error.code}
        with self.lock:
            self.engines[client] = engine
        return {"code": 0}

    def on_event(self, client, event):
        """Runs on the engine's event thread: print the event, then fire a matching hook in place."""
        line = event_line(client, event)
        # Choosing the hook and printing the line under one lock: a hook armed after this event's
        # line was printed never fires on it (hooks see only later events).
        with self.lock:
            hooks = self.hooks.setdefault(client, [])
            at = next((i for i, hook in enumerate(hooks) if matches(hook[1], line)), None)
            self.print(line)
            hook = hooks.pop(at) if at is not None else None
        if hook is not None:
            hook_id, _, then = hook
            try:
                result = self.call(client, then)
            except CommandError as error:
                result = {"code": -1, "error": str(error)}
            result["hook"] = hook_id
            result["cmd"] = then.get("cmd")
            self.print({"client": client, "callback_result": result})

    def call(self, client, cmd):
        """One engine call (a command, or a hook's `then`): the reply's fields except `id`."""
        name = str_of(cmd, "cmd")
        engine = self.engine(client)
        if name == "destroy":
            # Marked first: exit must never destroy it again. The object stays, so later calls
            # reach the destroyed engine and fail with 1900005.
            with self.lock:
                self.destroyed.add(client)
            engine.destroy()
            return {"code": 0}
        if name == "login":
            user = roomlink.User(user_id=str_of(cmd, "user_id"), user_name=str_of(cmd, "user_name"))
            return call_code(engine.login_room, str_of(cmd, "room"), user, str_of(cmd, "token"), bool_of(cmd, "user_update"))
        if name == "logout":
            return call_code(engine.logout_room, str_of(cmd, "room"))
        if name == "switch_room":
            return call_code(engine.switch_room, str_of(cmd, "from"), str_of(cmd, "to"), str_of(cmd, "token"))
        if name == "renew_token":
            return call_code(engine.renew_token, str_of(cmd, "room"), str_of(cmd, "token"))
        if name == "network":
            engine.on_network_changed(bool_of(cmd, "available"))
            return {"code": 0}
        if name == "app":
            state = str_of(cmd, "state")
            if state == "background":
                engine.on_app_background()
            elif state == "foreground":
                engine.on_app_foreground()
            else:
                raise CommandError(f"unknown app state {state!r}")
            return {"code": 0}
        if name == "room_state":
            return {"code": 0, "state": engine.room_state(str_of(cmd, "room")).value}
        if name == "publish_stream":
            return call_code(engine.publish_stream, str_of(cmd, "room"), str_of(cmd, "stream_id"), str_of(cmd, "extra_info"))
        if name == "unpublish_stream":
            return call_code(engine.unpublish_stream, str_of(cmd, "room"), str_of(cmd, "stream_id"))
        raise CommandError(f"unknown cmd {name!r}")

    def command(self, cmd):
        """One stdin command -> its reply's fields except `id`."""
        client = str_of(cmd, "client")
        name = str_of(cmd, "cmd")
        if name == "create":
            return self.create(client, cmd.get("config"))
        if name == "in_callback":
            when = cmd.get("when")
            then = cmd.get("then")
            if not isinstance(when, dict):
                raise CommandError("missing object 'when'")
            if not isinstance(then, dict):
                raise CommandError("missing object 'then'")
            str_of(then, "cmd")
            self.engine(client)
            with self.lock:
                self.hooks.setdefault(client, []).append((cmd.get("id"), when, then))
            return {"code": 0}
        return self.call(client, cmd)

    def release_all(self):
        """Destroys every engine not destroyed yet (never one twice) and drops them all."""
        with self.lock:
            engines = list(self.engines.items())
            self.engines.clear()
            destroyed = set(self.destroyed)
        for client, engine in engines:
            if client not in destroyed:
                engine.destroy()


def main():
    driver = Driver()
    driver.print({"ready": True, "driver": "python"})
    for raw in sys.stdin:
        try:
            cmd = json.loads(raw)
            if not isinstance(cmd, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            driver.print({"id": None, "code": -1, "error": f"bad JSON: {error}"})
            continue
        if cmd.get("cmd") == "exit":
            driver.release_all()
            driver.print({"id": cmd.get("id"), "code": 0})
            return
        try:
            reply = driver.command(cmd)
        except CommandError as error:
            reply = {"code": -1, "error": str(error)}
        reply["id"] = cmd.get("id")
        driver.print(reply)
    driver.release_all()  # stdin closed: exit promptly


if __name__ == "__main__":
    main()
