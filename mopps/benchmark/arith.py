"""The GRPO study's task and policy: addition puzzles and a tiny GPT-2 trained from scratch.

Task: ``"  12+7+305="`` -> ``"324"``. A problem has 2 or 3 operands of 1 to 3 digits; the
*level* (operands, digits) sets its difficulty (more digits and more operands mean longer
carry chains). Prompts are left-padded with spaces to one width, so every batch has one
prompt length and no padding or position-id question arises in generation. Reward: 1 for
an exact match of the completion (up to the end-of-sequence token), else 0.

Policy: a character-level tokenizer built locally with ``tokenizers`` and a small
``GPT2LMHeadModel`` from a seeded random init; a supervised warm start on freshly drawn
problems (loss on the answer tokens only) stops once greedy accuracy on a warm-up
validation set reaches a target, so that RL starts from a partly competent policy.
Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

__all__ = [
    "LEVELS",
    "Problem",
    "answer_reward",
    "build_model",
    "build_tokenizer",
    "greedy_accuracy",
    "make_problems",
    "sampled_success",
    "warm_start",
]

# (operands, digits per operand), easiest first
LEVELS: tuple[tuple[int, int], ...] = ((2, 1), (2, 2), (3, 1), (2, 3), (3, 2), (3, 3))
WIDTH = 3 * 3 + 2 + 1  # "999+999+999="
ANSWER_LEN = 4  # 3 * 999 = 2997
CHARS = "0123456789+= "


@dataclass(frozen=True)
class Problem:
    """One puzzle: ``prompt`` (``WIDTH`` chars), ``answer`` (digits), ``level`` index."""

    prompt: str
    answer: str
    level: int


def make_problems(
    n: int, rng: np.random.Generator, levels: Sequence[int] | None = None
) -> list[Problem]:
    """``n`` puzzles with levels drawn uniformly from ``levels`` (default: all)."""
    choices = np.arange(len(LEVELS)) if levels is None else np.asarray(levels)
    out = []
    for level in rng.choice(choices, size=n):
        ops, digits = LEVELS[int(level)]
        lo = 0 if digits == 1 else 10 ** (digits - 1)
        values = rng.integers(lo, 10**digits, size=ops)
        text = "+".join(str(int(v)) for v in values) + "="
        out.append(Problem(text.rjust(WIDTH), str(int(values.sum())), int(level)))
    return out


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Character-level tokenizer: one token per character of ``CHARS``."""
    vocab = {"[PAD]": 0, "[EOS]": 1, "[UNK]": 2, **{c: 3 + i for i, c in enumerate(CHARS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]",
        bos_token="[EOS]",
    )


def build_model(
    tok: PreTrainedTokenizerFast, seed: int, n_layer: int = 2, n_embd: int = 64
) -> GPT2LMHeadModel:
    """A small GPT-2 from a seeded random initialisation (float32, CPU)."""
    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=len(tok), n_layer=n_layer, n_embd=n_embd, n_head=4,
        n_positions=WIDTH + ANSWER_LEN + 4, bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    return GPT2LMHeadModel(cfg)


def answer_reward(completions: Sequence[Any], answer: Sequence[str], **_: Any) -> list[float]:
    """TRL reward function: 1.0 if the completion is exactly the answer, else 0.0."""
    texts = [c if isinstance(c, str) else str(c) for c in completions]
    return [float(t.strip() == a) for t, a in zip(texts, answer, strict=True)]


def _encode(tok: PreTrainedTokenizerFast, texts: Sequence[str]) -> torch.Tensor:
    ids = tok(list(texts), add_special_tokens=False)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def greedy_accuracy(
    model: GPT2LMHeadModel, tok: PreTrainedTokenizerFast, problems: Sequence[Problem],
    batch_size: int = 512,
) -> np.ndarray:
    """``(n,)`` bool: greedy decoding of each prompt equals its answer (then EOS)."""
    was_training = model.training
    model.eval()
    correct = np.zeros(len(problems), dtype=bool)
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        ids = _encode(tok, [p.prompt for p in chunk])
        out = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
            max_new_tokens=ANSWER_LEN + 1, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        texts = tok.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
        correct[start : start + len(chunk)] = [
            t.strip() == p.answer for t, p in zip(texts, chunk, strict=True)
        ]
    model.train(was_training)
    return correct


@torch.no_grad()
def sampled_success(
    model: GPT2LMHeadModel, tok: PreTrainedTokenizerFast, problems: Sequence[Problem],
    k: int, seed: int, batch_size: int = 256,
) -> np.ndarray:
    """``(n,)`` success rate of ``k`` completions sampled at temperature 1 per prompt."""
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    rate = np.zeros(len(problems))
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        ids = _encode(tok, [p.prompt for p in chunk])
        out = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
            temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=k,
            max_new_tokens=ANSWER_LEN + 1, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        texts = tok.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
        ok = np.array([t.strip() == chunk[i // k].answer for i, t in enumerate(texts)])
        rate[start : start + len(chunk)] = ok.reshape(len(chunk), k).mean(axis=1)
    model.train(was_training)
    return rate


def _sft_batch(
    tok: PreTrainedTokenizerFast, problems: Sequence[Problem]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``prompt + answer + EOS`` (right-padded) and labels on the answer only."""
    eos, pad = int(tok.eos_token_id), int(tok.pad_token_id)
    length = WIDTH + ANSWER_LEN + 1
    ids = torch.full((len(problems), length), pad, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    enc = tok([p.prompt + p.answer for p in problems], add_special_tokens=False)["input_ids"]
    for row, seq in enumerate(enc):
        seq = [*seq, eos]
        ids[row, : len(seq)] = torch.tensor(seq)
        labels[row, WIDTH : len(seq)] = ids[row, WIDTH : len(seq)]
    return ids, labels


def warm_start(
    model: GPT2LMHeadModel,
    tok: PreTrainedTokenizerFast,
    seed: int,
    target_accuracy: float = 0.3,
    max_steps: int = 3000,
    batch_size: int = 128,
    check_every: int = 50,
    lr: float = 3e-3,
) -> dict[str, Any]:
    """Supervised warm start until greedy accuracy on 512 fresh puzzles >= ``target_accuracy``.

    Returns:
        ``{"steps", "accuracy", "seconds"}``; ``model`` is trained in place.
    """
    rng = np.random.default_rng([seed, 7])
    val = make_problems(512, np.random.default_rng([seed, 8]))
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    t0, step, acc = time.perf_counter(), 0, 0.0
    while step < max_steps:
        ids, labels = _sft_batch(tok, make_problems(batch_size, rng))
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % check_every == 0:
            acc = float(greedy_accuracy(model, tok, val).mean())
            if acc >= target_accuracy:
                break
    return {"steps": step, "accuracy": acc, "seconds": time.perf_counter() - t0}
