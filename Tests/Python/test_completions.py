"""/v1/completions through the official openai client: schema, streaming, stop strings, logprobs, seeds."""
import math

PROMPT = "The capital of France is"


def stream_text(client, **kwargs):
    """Streams a completion; returns (text, chunks)."""
    chunks = list(client.completions.create(stream=True, **kwargs))
    return "".join(c.choices[0].text for c in chunks if c.choices), chunks


def test_completion_follows_the_openai_schema(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=12, temperature=0)
    assert r.id.startswith("cmpl-") and r.object == "text_completion" and r.model == model
    assert isinstance(r.created, int) and r.created > 1_600_000_000
    assert len(r.choices) == 1 and r.choices[0].index == 0
    assert r.choices[0].finish_reason in ("stop", "length")
    assert "Paris" in r.choices[0].text
    assert r.usage.prompt_tokens == 5
    assert 1 <= r.usage.completion_tokens <= 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_max_tokens_ends_with_finish_reason_length(client, model):
    r = client.completions.create(model=model, prompt="Once upon a time", max_tokens=5, temperature=0, extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5


def test_an_array_of_prompts_gives_one_choice_each_in_order(client, model):
    r = client.completions.create(model=model, prompt=[PROMPT, "1, 2, 3, 4,"], max_tokens=6, temperature=0)
    assert [c.index for c in r.choices] == [0, 1]
    single = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=6, temperature=0)
    assert r.choices[1].text == single.choices[0].text


def test_token_id_prompts_equal_their_text(client, model):
    text = client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0, logprobs=0)
    ids = [504, 3575, 282, 4649, 314]   # "The capital of France is" in SmolLM2's vocabulary
    by_ids = client.completions.create(model=model, prompt=ids, max_tokens=8, temperature=0)
    assert by_ids.usage.prompt_tokens == 5
    assert by_ids.choices[0].text == text.choices[0].text


def test_streaming_with_usage_sends_one_finish_chunk_then_usage(client, model):
    text, chunks = stream_text(client, model=model, prompt=PROMPT, max_tokens=10, temperature=0,
                               stream_options={"include_usage": True})
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens >= 1 and chunks[-1].usage.prompt_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("cmpl-")
    assert text


def test_streamed_text_equals_the_non_streamed_text_for_the_same_seed(client, model):
    for seed in (1, 2, 3):
        args = dict(model=model, prompt="Write a short poem about the sea:", max_tokens=40, temperature=0.9, top_p=0.95, seed=seed)
        whole = client.completions.create(**args).choices[0].text
        streamed, _ = stream_text(client, **args)
        assert streamed == whole


def test_the_same_seed_gives_the_same_text_and_different_seeds_differ(client, model):
    args = dict(model=model, prompt="My favourite animal is", max_tokens=24, temperature=1.0)
    a = client.completions.create(seed=42, **args).choices[0].text
    b = client.completions.create(seed=42, **args).choices[0].text
    assert a == b
    others = {client.completions.create(seed=s, **args).choices[0].text for s in (7, 8, 9)}
    assert others - {a}, "three other seeds all produced the same text as seed 42"


def test_a_stop_string_cuts_the_text_before_it(client, model):
    full = client.completions.create(model=model, prompt=PROMPT, max_tokens=16, temperature=0).choices[0].text
    assert len(full) > 6
    stop = full[3:6]
    cut = full[: full.index(stop)]
    for stop_field in (stop, [stop, "never-appears-xyz"]):
        r = client.completions.create(model=model, prompt=PROMPT, max_tokens=16, temperature=0, stop=stop_field)
        assert r.choices[0].text == cut
        assert r.choices[0].finish_reason == "stop"
        streamed, chunks = stream_text(client, model=model, prompt=PROMPT, max_tokens=16, temperature=0, stop=stop_field)
        assert streamed == cut


def test_logprobs_list_each_token_with_its_top_alternatives(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=6, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    n = r.usage.completion_tokens
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n
    for token, value, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert value <= 0 and math.isfinite(value)
        assert 1 <= len(top) <= 3
        # greedy: the chosen token is the most likely one
        assert abs(max(top.values()) - value) < 1e-4
    assert "".join(lp.tokens).startswith(r.choices[0].text[:3])


def test_streamed_logprobs_cover_every_token(client, model):
    chunks = list(client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0, logprobs=1, stream=True,
                                            stream_options={"include_usage": True}))
    tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
    assert len(tokens) == chunks[-1].usage.completion_tokens


def test_multibyte_output_has_no_replacement_characters(client, model):
    for prompt in ("日本の首都は", "Emoji list: 😀 😃", "Chinese greeting: 你好", "Le café est"):
        args = dict(model=model, prompt=prompt, max_tokens=24, temperature=0)
        whole = client.completions.create(**args).choices[0].text
        streamed, _ = stream_text(client, **args)
        assert "\ufffd" not in whole and "\ufffd" not in streamed
        assert streamed == whole
        assert any(ord(ch) > 127 for ch in whole), f"{prompt!r} produced no multi-byte characters: {whole!r}"


def test_sampling_fields_are_accepted(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0.7, top_p=0.9, seed=3,
                                  presence_penalty=0.5, frequency_penalty=0.5, user="pytest",
                                  extra_body={"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1, "min_tokens": 2})
    assert r.usage.completion_tokens >= 2
