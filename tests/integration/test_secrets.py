#!/usr/bin/env python3
"""Secrets never reach a client or a log, and bodies are never ambiguous about routing.

- An upstream that echoes the request's Authorization header in its error (mock fault
  `echo_auth`): the client's body and headers, the access log and stderr never hold the
  provider key, whatever the status (a 4xx passed through, a 401 or a 5xx summarised).
- An environment value inside base_url (`https://${VAR}/v1`): /admin/status shows the
  URL as written, and neither the client's 502 ("Could not resolve host: ...") nor the
  access log nor stderr holds the value.
- A body that names a key routing reads (model, stream, a sticky body key) twice, or
  spells it with a \\u0000 after it (a C parser cuts the key there), gets a 400."""

import json
import signal

import harness
from harness import ADMIN_KEY, PRIMARY_KEY, RELAY_KEY, IntegrationCase, chat_body, secret_ref


class EchoedKey(IntegrationCase):
    """The mock quotes the Authorization it got in every injected failure."""

    def start(self, status, endpoint="r1", percent=0):
        mock = self.start_mock(name=f"mock{status}",
                               faults=[f"{endpoint}:fail_next=1000,error_status={status},"
                                       "echo_auth=true"])
        router = self.start_router(harness.policy_yaml(mock.port, endpoints=("r1",),
                                                       percent=percent, max_attempts=2))
        # The fault works: straight from the mock, the key is in the body and a header.
        direct = mock.direct(endpoint, "/chat/completions", chat_body())
        self.assertEqual(direct.status, status, direct)
        self.assertIn(PRIMARY_KEY, direct.body.decode(), direct)
        self.assertIn(PRIMARY_KEY, direct.header("x-echo-authorization", ""), direct.headers)
        mock.reset_stats()
        return mock, router

    def assertNoSecret(self, router, *responses):
        texts = [router.stdout(), router.stderr()]  # access log (stdout) and the log
        for r in responses:
            texts.append(r.body.decode("utf-8", "replace"))
            texts.append(json.dumps(r.headers))
        for key in (PRIMARY_KEY, RELAY_KEY, ADMIN_KEY):
            for t in texts:
                self.assertNotIn(key, t)

    def test_passed_through_4xx_is_scrubbed(self):
        mock, router = self.start(400)
        r = router.chat()
        err = self.assertErrorEnvelope(r, 400)
        self.assertIn("you sent Authorization: Bearer [redacted]", err["message"], r)
        self.assertEqual(mock.endpoint_stats("r1")["last_authorization"], f"Bearer {PRIMARY_KEY}")
        # A stream request whose upstream refuses is answered whole, scrubbed the same way.
        s = router.chat(chat_body(stream=True))
        self.assertErrorEnvelope(s, 400)
        self.assertNoSecret(router, r, s)

    def test_other_plugin_and_its_key(self):
        # All traffic with a sticky key goes to the canary (holysheep plugin, its own key).
        mock, router = self.start(422, endpoint="hs1", percent=100)
        r = router.chat(headers={"x-user-id": "u1"})
        self.assertEqual(r.header("x-switchyard-provider"), "relay", r)
        err = self.assertErrorEnvelope(r, 422)
        self.assertIn("[redacted]", err["message"], r)
        self.assertEqual(mock.endpoint_stats("hs1")["last_authorization"], f"Bearer {RELAY_KEY}")
        self.assertNoSecret(router, r)

    def test_summarised_errors_are_scrubbed(self):
        for status in (401, 500, 429):
            with self.subTest(status=status):
                mock, router = self.start(status)
                r = router.chat()
                self.assertErrorEnvelope(r, (429, 502, 503))
                self.assertGreaterEqual(mock.requests_to("r1"), 1)
                self.assertNoSecret(router, r)
                router.signal(signal.SIGTERM)
                router.wait(harness.STOP_TIMEOUT)
                self.assertNoSecret(router)  # the access log is complete now


class EnvironmentInBaseUrl(IntegrationCase):
    HOST = "no-such-host.invalid"

    def test_host_from_environment_is_never_printed(self):
        ref = secret_ref(self.HOST)  # ${SY_T_...}, set in the router's environment
        var = ref[2:-1]
        policy = "\n".join([
            "version: 1",
            "server:",
            "  listen: 127.0.0.1:1",
            "  request_timeout: 10s",
            f"  admin_key: {secret_ref(ADMIN_KEY)}",
            "providers:",
            "  primary:",
            "    plugin: openai",
            f"    api_key: {secret_ref(PRIMARY_KEY)}",
            "    endpoints:",
            f"      - {{name: relay, base_url: \"http://{ref}/v1\"}}",
            "retry:",
            "  max_attempts: 2",
            "  backoff: {base: 5ms, max: 20ms, jitter: none}",
            "migration:",
            "  stable: primary",
        ]) + "\n"
        router = self.start_router(policy)
        r = router.chat()
        err = self.assertErrorEnvelope(r, 502)
        # curl said "Could not resolve host: <host>": the router names the variable instead.
        self.assertIn(f"Could not resolve host: ${{{var}}}", err["message"], r)

        st = router.get("/admin/status", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        self.assertEqual(st.status, 200, st)
        eps = st.json()["endpoints"]
        self.assertEqual(eps[0]["base_url"], f"http://${{{var}}}/v1", st)

        router.signal(signal.SIGTERM)
        router.wait(harness.STOP_TIMEOUT)
        log = router.stdout()
        self.assertIn('"status":502', log.replace(" ", ""))
        for text in (r.body.decode(), st.body.decode(), log, router.stderr()):
            self.assertNotIn(self.HOST, text)
            self.assertNotIn(PRIMARY_KEY, text)


class AmbiguousBody(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(endpoints=("r1",))

    def post(self, raw):
        return self.router.post("/v1/chat/completions", raw.encode())

    MSG = '"messages":[{"role":"user","content":"hi"}]'

    def test_duplicate_routing_keys_are_refused(self):
        cases = [
            ('{"model":"gpt-4o-mini","model":"gpt-4.1",%s}', "model", "more than once"),
            ('{"model":"gpt-4o-mini","stream":false,%s,"stream":true}', "stream", "more than once"),
            ('{"model":"gpt-4o-mini","user":"alice",%s,"user":"bob"}', "user", "more than once"),
            # The same key written with an escape is the same key to every parser.
            ('{"model":"gpt-4o-mini","m\\u006fdel":"gpt-4.1",%s}', "model", "more than once"),
            # A C parser cuts "model\u0000..." at the NUL and reads a second "model".
            ('{"model":"gpt-4o-mini","model\\u0000":"gpt-4.1",%s}', "model", "NUL"),
            ('{"model\\u0000":"\\u0000",%s}', "model", "NUL"),
            ('{"model":"gpt-4o-mini","user\\u0000x":"bob",%s}', "user", "NUL"),
        ]
        for body, key, why in cases:
            with self.subTest(body=body):
                r = self.post(body % self.MSG)
                err = self.assertErrorEnvelope(r, 400)
                self.assertEqual(err["code"], "ambiguous_json", r)
                self.assertIn(f'the key "{key}"', err["message"], r)
                self.assertIn(why, err["message"], r)
                self.assertTrue(r.header("x-request-id"), r.headers)
        self.assertEqual(self.mock.requests_to("r1"), 0, "nothing ambiguous may reach an upstream")

    def test_what_is_not_ambiguous_is_served(self):
        for body in ('{"model":"gpt-4o-mini","temperature":1,"temperature":0,%s}',
                     '{"model":"gpt-4o-mini","metadata":{"user":"a","user":"b"},%s}',
                     '{"model":"gpt-4o-mini","mo\\u0000del":"gpt-4.1",%s}'):
            with self.subTest(body=body):
                r = self.post(body % self.MSG)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("x-switchyard-model"), "gpt-4o-mini")
        # A key written with escapes is read decoded, as the upstream reads it.
        r = self.post('{"m\\u006fdel":"gpt-4o-mini",%s}' % self.MSG)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4o-mini")
        self.assertEqual(self.mock.endpoint_stats("r1")["last_model"], "gpt-4o-mini")


if __name__ == "__main__":
    harness.main()
