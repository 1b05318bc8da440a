"""The preference check: does the tuned model prefer `preferred_output` more often
than its base does?

For each example, with y_w the preferred and y_l the non-preferred answer:
- the tuned model's implicit DPO reward of an answer is
  beta * (log pi_tuned(y|x) - log pi_base(y|x)); it prefers y_w when the reward
  of y_w is larger (TRL's `rewards/accuracies`, on data of your choice);
- the base model prefers y_w when log pi_base(y_w|x) > log pi_base(y_l|x).

The base is the same weights with the adapter switched off: one copy in memory.
Runs in a worker; torch is imported inside.
"""

import json
import logging
import time

from jobs_app.training.data import read_pairs

log = logging.getLogger(__name__)


def check_preferences(adapter_path, base_path, jsonl_path, beta, limit, progress):
    """Score up to `limit` examples; `progress(done, total)` is called as it goes."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(adapter_path)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    model = PeftModel.from_pretrained(base, adapter_path).to(device).eval()
    max_length = getattr(base.config, "max_position_embeddings", 2048)

    pairs = _take(read_pairs(jsonl_path), limit)
    total = len(pairs)
    tally = Tally(beta)
    last_report = 0.0
    for done, pair in enumerate(pairs, start=1):
        chosen = _answer_tokens(tokenizer, pair, "chosen", max_length)
        rejected = _answer_tokens(tokenizer, pair, "rejected", max_length)
        with torch.inference_mode():
            tuned = _log_probs(model, [chosen, rejected], device)
            with model.disable_adapter():
                reference = _log_probs(model, [chosen, rejected], device)
        tally.add(tuned, reference)

        if time.monotonic() - last_report > 1 or done == total:
            progress(done, total)
            last_report = time.monotonic()
    return tally.result()


def _take(rows, limit):
    taken = []
    for row in rows:
        if len(taken) == limit:
            break
        taken.append(row)
    return taken


def _answer_tokens(tokenizer, pair, side, max_length):
    """(token ids of prompt + answer, where the answer starts), cut to max_length."""
    tools = pair["tools"]
    options = {"tools": json.loads(tools)} if tools else {}
    prompt = tokenizer.apply_chat_template(
        pair["prompt"], add_generation_prompt=True, **options
    )["input_ids"]
    full = tokenizer.apply_chat_template(pair["prompt"] + pair[side], **options)[
        "input_ids"
    ]
    # The answer is what the full conversation adds after the prompt; a template
    # that renders the prompt differently once answered shares a shorter prefix.
    start = 0
    while start < min(len(prompt), len(full)) and prompt[start] == full[start]:
        start += 1
    full = full[:max_length]
    return full, min(start, len(full) - 1)


def _log_probs(model, sequences, device):
    """Summed log-probability of each answer given its prompt."""
    import torch

    longest = max(len(ids) for ids, _ in sequences)
    input_ids = torch.zeros((len(sequences), longest), dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    answer = torch.zeros_like(input_ids, dtype=torch.bool)
    for row, (ids, start) in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        answer[row, start : len(ids)] = True

    input_ids, attention, answer = (
        t.to(device) for t in (input_ids, attention, answer)
    )
    logits = model(input_ids=input_ids, attention_mask=attention).logits.float()
    # Token t is predicted by the logits at t - 1.
    token_logps = torch.log_softmax(logits[:, :-1], dim=-1).gather(
        2, input_ids[:, 1:].unsqueeze(-1)
    )[..., 0]
    return (token_logps * answer[:, 1:]).sum(dim=1).tolist()


class Tally:
    def __init__(self, beta):
        self.beta = beta
        self.count = 0
        self.tuned_wins = 0
        self.base_wins = 0
        self.tuned_likelier = 0
        self.margins = []
        self.chosen_rewards = []
        self.rejected_rewards = []

    def add(self, tuned, reference):
        """`tuned` and `reference`: [log p(chosen), log p(rejected)] of each model."""
        reward_chosen = self.beta * (tuned[0] - reference[0])
        reward_rejected = self.beta * (tuned[1] - reference[1])
        self.count += 1
        self.tuned_wins += reward_chosen > reward_rejected
        self.base_wins += reference[0] > reference[1]
        self.tuned_likelier += tuned[0] > tuned[1]
        self.margins.append(reward_chosen - reward_rejected)
        self.chosen_rewards.append(reward_chosen)
        self.rejected_rewards.append(reward_rejected)

    def result(self):
        if not self.count:
            return {"examples": 0}
        return {
            "examples": self.count,
            "beta": self.beta,
            "tuned_accuracy": self.tuned_wins / self.count,
            "base_accuracy": self.base_wins / self.count,
            # The tuned model's own likelihoods, compared like the base's.
            "tuned_likelihood_accuracy": self.tuned_likelier / self.count,
            "rewards/margins": sum(self.margins) / self.count,
            "rewards/chosen": sum(self.chosen_rewards) / self.count,
            "rewards/rejected": sum(self.rejected_rewards) / self.count,
        }
