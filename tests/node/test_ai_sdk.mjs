// test_ai_sdk.mjs - the Vercel AI SDK (`ai` 6 with `@ai-sdk/openai` 3) through a running
// switchyard. Its default model, openai('gpt-4.1'), speaks the Responses API
// (POST /v1/responses); only baseURL and apiKey change, as an app would configure it.
//
// Started by tests/integration/test_node_sdk.py, which passes:
//   SWITCHYARD_URL     http://127.0.0.1:PORT (the router)
//   SWITCHYARD_KEY     a client key the policy accepts
//   EXPECT_TEXT        the text of a non-stream answer
//   EXPECT_STREAM_TEXT the concatenated text of a streamed answer
// Exits 0 when every check passed, 1 otherwise (each failure printed).
import assert from 'node:assert/strict';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';

const base = process.env.SWITCHYARD_URL;
const key = process.env.SWITCHYARD_KEY;
if (!base || !key) {
    console.error('SWITCHYARD_URL and SWITCHYARD_KEY must be set (run through test_node_sdk.py)');
    process.exit(2);
}

const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: key });
const results = [];
let firstId = null;

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

await check('generateText openai(gpt-4.1)', async () => {
    const r = await generateText({ model: openai('gpt-4.1'), prompt: 'Say hello.', maxRetries: 0 });
    assert.equal(r.text, process.env.EXPECT_TEXT);
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.usage.inputTokens > 0, `usage ${JSON.stringify(r.usage)}`);
    assert.ok(r.usage.outputTokens > 0, `usage ${JSON.stringify(r.usage)}`);
    assert.match(r.response.id, /^resp_/, 'the response id');
    assert.equal(r.response.modelId, 'gpt-4.1');
    assert.equal(r.providerMetadata?.openai?.responseId, r.response.id);
    firstId = r.response.id;
});

await check('generateText continuing with previousResponseId', async () => {
    assert.ok(firstId, 'needs the first response');
    const r = await generateText({
        model: openai('gpt-4.1'),
        prompt: 'And again.',
        providerOptions: { openai: { previousResponseId: firstId } },
        maxRetries: 0,
    });
    assert.equal(r.text, process.env.EXPECT_TEXT);
    assert.notEqual(r.response.id, firstId);
});

await check('streamText openai(gpt-4.1)', async () => {
    const errors = [];
    const result = streamText({
        model: openai('gpt-4.1'),
        prompt: 'Stream please.',
        maxRetries: 0,
        onError: ({ error }) => errors.push(error),
    });
    let text = '';
    let pieces = 0;
    for await (const piece of result.textStream) {
        text += piece;
        pieces += 1;
    }
    assert.deepEqual(errors, [], 'stream errors');
    assert.equal(text, process.env.EXPECT_STREAM_TEXT);
    assert.ok(pieces >= 2, `${pieces} text pieces: not streamed`);
    assert.equal(await result.finishReason, 'stop');
    const usage = await result.usage;
    assert.ok(usage.inputTokens > 0, `usage ${JSON.stringify(usage)}`);
    assert.ok(usage.outputTokens > 0, `usage ${JSON.stringify(usage)}`);
    const response = await result.response;
    assert.match(response.id, /^resp_/, 'the response id');
});

await check('wrong key -> an API error with status 401', async () => {
    const bad = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key' });
    await assert.rejects(generateText({ model: bad('gpt-4.1'), prompt: 'x', maxRetries: 0 }), (err) => {
        assert.equal(err.statusCode, 401, `got ${err && err.constructor.name}: ${err}`);
        return true;
    });
});

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
