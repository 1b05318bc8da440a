"""One base model in memory with any number of LoRA adapters on it, and generation.

Runs inside the `inference` worker's work horse; torch is imported here only, after
the fork. Several adapters share the base's weights through PEFT's multi-adapter
support: `load_adapter` adds one, `set_adapter` picks the active one,
`disable_adapter` answers as the plain base, `delete_adapter` frees one.
"""

import logging
import time
from contextlib import nullcontext

log = logging.getLogger(__name__)


def pick_device():
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


class Engine:
    def __init__(self, base_path):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device, dtype = pick_device()
        self.tokenizer = AutoTokenizer.from_pretrained(base_path)
        if not self.tokenizer.chat_template:
            raise ValueError(f"The base model in {base_path} has no chat template.")
        self.model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
        self.model.to(self.device).eval()
        self.context_length = getattr(
            self.model.config, "max_position_embeddings", 2048
        )
        self.adapters = set()

    def add_adapter(self, name, path):
        from peft import PeftModel

        if not self.adapters:
            self.model = PeftModel.from_pretrained(
                self.model, path, adapter_name=name, is_trainable=False
            )
        else:
            self.model.load_adapter(path, adapter_name=name, is_trainable=False)
        self.model.eval()
        self.adapters.add(name)

    def drop_adapter(self, name):
        """Free one adapter; with none left, go back to the plain base model."""
        if name not in self.adapters:
            return

        if len(self.adapters) == 1:
            # unload() takes the LoRA layers out without merging them.
            self.model = self.model.unload()
        else:
            if self.model.active_adapter == name:
                other = next(a for a in self.adapters if a != name)
                self.model.set_adapter(other)
            self.model.delete_adapter(name)
        self.adapters.discard(name)
        self._free_cache()

    def generate(self, adapter, messages, sampling, on_text):
        """Answer one chat; `on_text(piece)` gets the new text as it is made.

        `adapter` is None for the base model. Returns the counts and timings.
        """
        import torch

        prompt = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt"
        )
        input_ids = prompt["input_ids"].to(self.device)
        prompt_tokens = input_ids.shape[1]
        room = self.context_length - prompt_tokens
        if room < 1:
            raise ValueError(
                f"The messages take {prompt_tokens} tokens; the model's context is "
                f"{self.context_length}. Shorten them."
            )

        stream = TextStream(
            self.tokenizer, sampling.get("stop") or [], on_text, self._eos_ids()
        )
        options = {
            "max_new_tokens": min(sampling["max_tokens"], room),
            "streamer": stream,
            "stopping_criteria": [stream.should_stop],
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sampling["temperature"] > 0:
            options.update(
                do_sample=True,
                temperature=sampling["temperature"],
                top_p=sampling["top_p"],
                top_k=0,
            )
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if sampling.get("seed") is not None:
            torch.manual_seed(sampling["seed"])

        started = time.monotonic()
        with torch.inference_mode(), self._using(adapter):
            self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                **options,
            )
        stream.finish()
        seconds = time.monotonic() - started
        finish = "stop" if stream.stopped or stream.saw_eos else "length"
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": stream.token_count,
            "seconds": seconds,
            "finish_reason": finish,
        }

    def _eos_ids(self):
        configured = self.model.generation_config.eos_token_id
        if not isinstance(configured, list):
            configured = [configured]
        ids = set(configured) | {self.tokenizer.eos_token_id}
        return {i for i in ids if i is not None}

    def _using(self, adapter):
        if adapter is None:
            return self.model.disable_adapter() if self.adapters else nullcontext()
        if adapter not in self.adapters:
            raise KeyError(f"adapter {adapter} is not loaded")
        self.model.set_adapter(adapter)
        return nullcontext()

    def _free_cache(self):
        import torch

        if self.device == "cuda":
            torch.cuda.empty_cache()


class TextStream:
    """A transformers streamer: decodes new tokens, holds back what could still
    turn out to be the start of a stop sequence, and ends at a stop sequence."""

    def __init__(self, tokenizer, stop, on_text, eos_ids):
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.on_text = on_text
        self.ids = []
        self.sent = 0  # characters of the decoded text already passed on
        self.text = ""
        self.token_count = 0
        self.stopped = False
        self.saw_eos = False
        self.prompt_seen = False
        self.eos_ids = eos_ids

    def put(self, value):
        # generate() first hands over the prompt; only new tokens count.
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            if self.stopped or self.saw_eos:
                return
            if token in self.eos_ids:
                self.saw_eos = True
                return
            self.token_count += 1
            self.ids.append(token)
        self._advance(final=False)

    def end(self):
        pass

    def finish(self):
        self._advance(final=True)

    def should_stop(self, input_ids, scores, **kwargs):
        import torch

        done = self.stopped or self.saw_eos
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    def _advance(self, final):
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        for stop in self.stop:
            at = self.text.find(stop)
            if at != -1:
                self.text = self.text[:at]
                self.stopped = True
        end = len(self.text)
        if not (final or self.stopped):
            # A half-decoded character, or a possible start of a stop sequence,
            # waits for the next token.
            if self.text.endswith("\ufffd"):
                end -= 1
            end -= _held_back(self.text[:end], self.stop)
        if end > self.sent:
            self.on_text(self.text[self.sent : end])
            self.sent = end


def _held_back(text, stops):
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                longest = max(longest, size)
                break
    return longest
