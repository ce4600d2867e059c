// test_openai_responses.mjs - the official `openai` npm package's Responses API
// (client.responses.*) through a running switchyard, as an app would use it.
//
// Started by tests/integration/test_node_sdk.py, which runs the router in front of the
// mock upstream or the mock provider plugin and passes:
//   SWITCHYARD_URL     http://127.0.0.1:PORT (the router)
//   SWITCHYARD_KEY     a client key the policy accepts
//   EXPECT_TEXT        the text of a non-stream answer
//   EXPECT_STREAM_TEXT the concatenated output_text deltas of a stream
//   EXPECT_STATEFUL    "1" when the backend stores responses (the mock upstream): a
//                      deleted response is then gone (404); "0" for the stateless mock
//                      provider, which answers any id
//   RESULT_FILE        optional: the ids created are written there as JSON, so the
//                      caller can check where each request went
// Exits 0 when every check passed, 1 otherwise (each failure printed).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';

const base = process.env.SWITCHYARD_URL;
const key = process.env.SWITCHYARD_KEY;
if (!base || !key) {
    console.error('SWITCHYARD_URL and SWITCHYARD_KEY must be set (run through test_node_sdk.py)');
    process.exit(2);
}
const stateful = process.env.EXPECT_STATEFUL === '1';

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 10000 });
const results = [];
const ids = {};

async function check(name, fn) {
    const t0 = Date.now();
    try {
        await fn();
        results.push([name, true]);
        console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
        results.push([name, false]);
        console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
    }
}

function textOf(response) {
    let text = '';
    for (const item of response.output ?? []) {
        if (item.type !== 'message') continue;
        for (const part of item.content ?? []) if (part.type === 'output_text') text += part.text;
    }
    return text;
}

await check('responses.create', async () => {
    const { data: r, response } = await client.responses
        .create({ model: 'gpt-4.1', input: 'Say hello.', instructions: 'Be brief.' })
        .withResponse();
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.match(r.id, /^resp_[0-9a-f]+$/);
    assert.equal(r.model, 'gpt-4.1');
    assert.equal(r.output_text, process.env.EXPECT_TEXT, 'the SDK\'s output_text');
    assert.equal(textOf(r), process.env.EXPECT_TEXT);
    assert.ok(r.usage.input_tokens > 0, 'input_tokens');
    assert.ok(r.usage.output_tokens > 0, 'output_tokens');
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.ok(response.headers.get('x-request-id'), 'x-request-id');
    assert.ok(response.headers.get('x-switchyard-provider'), 'x-switchyard-provider');
    ids.created = r.id;
});

await check('responses.create stream', async () => {
    const stream = await client.responses.create({ model: 'gpt-4.1', input: 'Stream please.', stream: true });
    const types = [];
    let text = '';
    let completed = null;
    let seq = -1;
    for await (const ev of stream) {
        types.push(ev.type);
        assert.equal(ev.sequence_number, seq + 1, `sequence_number after ${seq}`);
        seq = ev.sequence_number;
        if (ev.type === 'response.output_text.delta') text += ev.delta;
        if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.equal(types[0], 'response.created', `first event ${types[0]}`);
    assert.equal(types[types.length - 1], 'response.completed', `last event ${types.at(-1)}`);
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 2, `types: ${types}`);
    assert.equal(text, process.env.EXPECT_STREAM_TEXT);
    assert.ok(completed, 'a response.completed event');
    assert.equal(completed.status, 'completed');
    assert.equal(textOf(completed), process.env.EXPECT_STREAM_TEXT);
    assert.ok(completed.usage && completed.usage.input_tokens > 0, 'usage.input_tokens');
    assert.ok(completed.usage.output_tokens > 0, 'usage.output_tokens');
    ids.streamed = completed.id;
});

await check('responses.stream helper finalResponse', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'Helper please.' });
    let text = '';
    stream.on('response.output_text.delta', (ev) => { text += ev.delta; });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(text, process.env.EXPECT_STREAM_TEXT);
    assert.equal(textOf(final), process.env.EXPECT_STREAM_TEXT);
});

await check('responses.create with previous_response_id', async () => {
    assert.ok(ids.created, 'needs the first response');
    const r = await client.responses.create({
        model: 'gpt-4.1', input: 'And again.', previous_response_id: ids.created,
    });
    assert.equal(r.status, 'completed');
    assert.equal(r.previous_response_id, ids.created);
    ids.continued = r.id;
});

await check('responses.retrieve', async () => {
    assert.ok(ids.created, 'needs the first response');
    const r = await client.responses.retrieve(ids.created);
    assert.equal(r.id, ids.created);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(textOf(r), process.env.EXPECT_TEXT);
});

await check('responses.inputItems.list', async () => {
    assert.ok(ids.created, 'needs the first response');
    const items = [];
    for await (const item of client.responses.inputItems.list(ids.created)) items.push(item);
    if (stateful) {
        assert.equal(items.length, 1, JSON.stringify(items));
        assert.equal(items[0].role, 'user');
        assert.equal(items[0].content[0].text, 'Say hello.');
    }
});

await check('responses.delete', async () => {
    assert.ok(ids.continued, 'needs the second response');
    await client.responses.delete(ids.continued);
    if (stateful) {
        await assert.rejects(client.responses.retrieve(ids.continued), (err) => {
            assert.ok(err instanceof OpenAI.NotFoundError, `got ${err && err.constructor.name}`);
            assert.equal(err.status, 404);
            return true;
        });
    }
});

await check('wrong key -> AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key', maxRetries: 0, timeout: 10000 });
    await assert.rejects(bad.responses.create({ model: 'gpt-4.1', input: 'x' }), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err && err.constructor.name}`);
        assert.equal(err.status, 401);
        assert.ok(err.error && typeof err.error.message === 'string', 'OpenAI error envelope');
        return true;
    });
});

if (process.env.RESULT_FILE) writeFileSync(process.env.RESULT_FILE, JSON.stringify(ids));
const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
