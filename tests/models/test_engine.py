"""The serving engine in this process: sampling and stop sequences."""

from models_app.engine import Engine, TextStream

MESSAGES = [{"role": "user", "content": "Tell me a story."}]


def sampling(**values):
    return {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 16,
        "stop": [],
        "seed": None,
    } | values


def generate(engine, **values):
    pieces = []
    counts = engine.generate(None, MESSAGES, sampling(**values), pieces.append)
    return "".join(pieces), counts


def test_a_seed_makes_a_sampled_answer_repeatable(tiny_model_dir):
    engine = Engine(str(tiny_model_dir))

    first, _ = generate(engine, temperature=1.0, top_p=0.95, seed=7)
    again, _ = generate(engine, temperature=1.0, top_p=0.95, seed=7)
    other, _ = generate(engine, temperature=1.0, top_p=0.95, seed=8)

    assert first == again
    assert first != other


def test_max_tokens_bounds_the_answer_and_is_reported_as_length(tiny_model_dir):
    engine = Engine(str(tiny_model_dir))

    _, counts = generate(engine, max_tokens=5)

    assert counts["completion_tokens"] == 5
    assert counts["finish_reason"] == "length"


def test_the_stream_never_sends_the_start_of_a_stop_sequence(tiny_model_dir):
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    pieces = []
    stream = TextStream(tokenizer, ["STOP now"], pieces.append, eos_ids=set())
    ids = tokenizer("Hello there, STOP now and more", add_special_tokens=False)

    stream.put(None)  # generate() hands over the prompt first
    for token in ids["input_ids"]:
        stream.put(torch.tensor([token]))
    stream.finish()

    assert "".join(pieces) == "Hello there, "
    assert all("STOP" not in piece for piece in pieces)
    assert stream.stopped
