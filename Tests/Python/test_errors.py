"""Every invalid request gets a 400 (404 for an unknown model) with an OpenAI error body naming the field,
and the server keeps serving."""
import json
import urllib.error
import urllib.request

import openai
import pytest


def post(server, path, body, content_type="application/json"):
    """Raw POST; returns (status, parsed JSON body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(server.base_url + path, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def assert_error(status, body, expected_status, param):
    assert status == expected_status, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    assert err["param"] == param, err


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b"\"text\"", b"{\"model\": \"x\"", b"\xff\xfe"])
def test_malformed_bodies_get_400(server, raw):
    status, body = post(server, "/v1/completions", raw)
    assert_error(status, body, 400, None)


@pytest.mark.parametrize("field,value", [
    ("max_tokens", "ten"), ("max_tokens", 1.5), ("temperature", "hot"), ("temperature", True), ("top_p", [1]),
    ("stop", 5), ("stop", [1, 2]), ("stream", "yes"), ("seed", "x"), ("logprobs", "3"), ("n", "1"),
    ("presence_penalty", {}), ("prompt", {"text": "hi"}), ("prompt", 42), ("user", 7),
])
def test_wrong_types_name_the_field(server, model, field, value):
    body = {"model": model, "prompt": "Hello", "max_tokens": 4, field: value}
    status, err = post(server, "/v1/completions", body)
    assert_error(status, err, 400, field)


@pytest.mark.parametrize("field,value", [
    ("max_tokens", -1), ("max_tokens", 0), ("max_tokens", 10**9), ("max_tokens", 2**63 - 1), ("temperature", -0.5),
    ("temperature", 9), ("top_p", 0), ("top_p", 1.5), ("top_k", -2), ("min_p", 2), ("presence_penalty", 3),
    ("frequency_penalty", -3), ("repetition_penalty", 0), ("logprobs", 21), ("logprobs", -1), ("n", 2), ("n", 0),
    ("stop", ""), ("stop", ["a"] * 17), ("best_of", 3), ("echo", True), ("min_tokens", 100),
])
def test_out_of_range_values_name_the_field(server, model, field, value):
    status, err = post(server, "/v1/completions", {"model": model, "prompt": "Hello", "max_tokens": 4, field: value})
    assert_error(status, err, 400, field)


def test_openai_client_raises_bad_request_naming_the_field(client, model):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model, prompt="Hello", max_tokens=-5)
    assert e.value.status_code == 400 and e.value.body["param"] == "max_tokens"


def test_an_unknown_model_gets_404(client, server, model):
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-9", prompt="Hello", max_tokens=4)
    assert e.value.body["param"] == "model" and e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    status, err = post(server, "/v1/completions", {"prompt": "Hello"})
    assert_error(status, err, 400, "model")


def test_a_prompt_longer_than_the_engine_limit_gets_400(server, model):
    limit = server.get_json("/v1/models")["data"][0]["max_model_len"]
    status, err = post(server, "/v1/completions", {"model": model, "prompt": [504] * (limit + 10), "max_tokens": 4})
    assert_error(status, err, 400, "prompt")
    status, err = post(server, "/v1/completions", {"model": model, "prompt": [504] * (limit - 2), "max_tokens": 8})
    assert_error(status, err, 400, "max_tokens")


@pytest.mark.parametrize("prompt", [[49152], [-1], [1, 2, 10**12], [[1, 2], [3, 99999]], [[]], [], "", [1.5]])
def test_out_of_vocabulary_and_empty_prompts_get_400(server, model, prompt):
    status, err = post(server, "/v1/completions", {"model": model, "prompt": prompt, "max_tokens": 4})
    assert_error(status, err, 400, "prompt")


@pytest.mark.parametrize("messages,param", [
    ([], "messages"), (None, "messages"), ("hi", "messages"), ([1], "messages[0]"), ([{"content": "hi"}], "messages[0].role"),
    ([{"role": "wizard", "content": "hi"}], "messages[0].role"), ([{"role": "user", "content": 5}], "messages[0].content"),
    ([{"role": "user"}], "messages[0].content"), ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "messages[0].content"),
])
def test_bad_messages_get_400_naming_the_message(server, model, messages, param):
    body = {"model": model, "max_tokens": 4}
    if messages is not None:
        body["messages"] = messages
    status, err = post(server, "/v1/chat/completions", body)
    assert_error(status, err, 400, param)


@pytest.mark.parametrize("extra,param", [
    ({"top_logprobs": 2}, "top_logprobs"), ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"), ({"max_completion_tokens": -1}, "max_completion_tokens"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
])
def test_unsupported_or_inconsistent_chat_fields_get_400(server, model, extra, param):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **extra}
    status, err = post(server, "/v1/chat/completions", body)
    assert_error(status, err, 400, param)


def test_the_server_still_serves_after_bad_requests(client, model):
    r = client.completions.create(model=model, prompt="The capital of France is", max_tokens=4, temperature=0)
    assert r.choices[0].text
