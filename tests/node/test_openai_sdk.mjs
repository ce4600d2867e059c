// test_openai_sdk.mjs - the official `openai` npm package talks to a running switchyard
// exactly as an app would: only baseURL and apiKey change.
//
// Started by tests/integration/test_node_sdk.py, which runs the router and the mock upstream
// and passes:
//   SWITCHYARD_URL     http://127.0.0.1:PORT (the router)
//   SWITCHYARD_KEY     a client key the policy accepts
//   EXPECT_CONTENT     the mock's non-stream answer text
//   EXPECT_STREAM_TEXT the concatenated deltas of the mock's direct stream
// Exits 0 when every check passed, 1 otherwise (each failure printed).
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.SWITCHYARD_URL;
const key = process.env.SWITCHYARD_KEY;
if (!base || !key) {
    console.error('SWITCHYARD_URL and SWITCHYARD_KEY must be set (run through test_node_sdk.py)');
    process.exit(2);
}

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 10000 });
const results = [];

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

await check('chat.completions.create', async () => {
    const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'gpt-4o-mini');
    assert.equal(r.choices[0].message.content, process.env.EXPECT_CONTENT);
    assert.ok(r.usage && r.usage.completion_tokens > 0, 'usage passed through');
});

await check('chat.completions.create withResponse headers', async () => {
    const { data, response } = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
    assert.equal(data.choices.length, 1);
    assert.ok(response.headers.get('x-request-id'), 'x-request-id');
    assert.equal(response.headers.get('x-switchyard-arm'), 'stable');
    assert.equal(response.headers.get('x-switchyard-provider'), 'primary');
    assert.equal(response.headers.get('x-switchyard-model'), 'gpt-4o-mini');
    assert.equal(response.headers.get('x-switchyard-attempts'), '1');
});

await check('chat.completions.create stream', async () => {
    const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Stream please.' }],
        stream: true,
    });
    let n = 0;
    let text = '';
    const arrivals = [];
    for await (const chunk of stream) {
        n += 1;
        arrivals.push(Date.now());
        assert.equal(chunk.object, 'chat.completion.chunk');
        text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.ok(n >= 2, `stream yielded ${n} chunks`);
    assert.equal(text, process.env.EXPECT_STREAM_TEXT);
    // the mock waits between chunks: a buffered answer would arrive all at once
    const spread = arrivals[arrivals.length - 1] - arrivals[0];
    assert.ok(spread >= 100, `chunks arrived within ${spread} ms: not streamed`);
});

await check('stream with include_usage', async () => {
    const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Usage please.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    let usage = null;
    for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(usage && usage.prompt_tokens > 0, 'usage chunk');
});

await check('completions.create', async () => {
    const r = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Say hi' });
    assert.ok(r.choices.length >= 1);
});

await check('embeddings.create', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    assert.ok(Array.isArray(r.data) && r.data.length >= 1);
    assert.ok(r.data[0].embedding.length > 0);
});

await check('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('gpt-4o-mini'), `models: ${ids}`);
});

await check('wrong key -> AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key', maxRetries: 0, timeout: 10000 });
    await assert.rejects(
        bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
        (err) => {
            assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err && err.constructor.name}`);
            assert.equal(err.status, 401);
            assert.ok(err.error && typeof err.error.message === 'string', 'OpenAI error envelope');
            return true;
        });
});

await check('bad request -> BadRequestError', async () => {
    await assert.rejects(
        client.chat.completions.create({ messages: [{ role: 'user', content: 'no model' }] }),
        (err) => {
            assert.ok(err instanceof OpenAI.BadRequestError, `got ${err && err.constructor.name}`);
            assert.equal(err.status, 400);
            return true;
        });
});

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
