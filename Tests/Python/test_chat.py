"""/v1/chat/completions: messages rendered with the model's own chat template, streaming, logprobs."""


def test_chat_completion_follows_the_openai_schema(client, model):
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is the capital of France?"}],
                                       max_tokens=16, temperature=0)
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.model == model
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant" and isinstance(c.message.content, str) and c.message.content
    assert c.finish_reason in ("stop", "length")
    # SmolLM2's template adds its default system prompt: the rendered prompt is much longer than the question
    assert r.usage.prompt_tokens > 20
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_a_system_message_replaces_the_default_system_prompt(client, model):
    q = [{"role": "user", "content": "Hi"}]
    default = client.chat.completions.create(model=model, messages=q, max_tokens=1, temperature=0)
    own = client.chat.completions.create(model=model, messages=[{"role": "system", "content": "Be brief."}] + q, max_tokens=1, temperature=0)
    assert own.usage.prompt_tokens < default.usage.prompt_tokens


def test_text_content_parts_are_accepted(client, model):
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}],
                                       max_tokens=4, temperature=0)
    assert r.choices[0].message.content is not None


def test_chat_streaming_sends_the_role_first_one_finish_chunk_and_usage(client, model):
    chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Count to five."}],
                                                 max_tokens=20, temperature=0, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].object == "chat.completion.chunk"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert len(finish) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    whole = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Count to five."}],
                                           max_tokens=20, temperature=0).choices[0].message.content
    assert streamed == whole


def test_chat_logprobs_report_tokens_bytes_and_alternatives(client, model):
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}], max_tokens=5,
                                       temperature=0, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0 and isinstance(entry.bytes, list)
        assert len(entry.top_logprobs) == 2
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob


def test_chat_seeds_reproduce(client, model):
    args = dict(model=model, messages=[{"role": "user", "content": "Tell me a story."}], max_tokens=24, temperature=1.0, seed=11)
    assert client.chat.completions.create(**args).choices[0].message.content == client.chat.completions.create(**args).choices[0].message.content


def test_chat_stop_strings_apply(client, model):
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    full = client.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0).choices[0].message.content
    stop = full[4:7]
    r = client.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0, stop=stop)
    assert r.choices[0].message.content == full[: full.index(stop)] and r.choices[0].finish_reason == "stop"


def test_models_and_health(server, client, model):
    assert [m.id for m in client.models.list().data] == [model]
    assert client.models.retrieve(model).id == model
    status, body = server.get("/health")
    assert status == 200 and "ok" in body
