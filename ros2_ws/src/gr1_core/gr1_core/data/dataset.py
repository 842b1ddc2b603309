"""A torch Dataset of GR-1 training windows over a folder of bags, with an on-disk cache.

Each bag is read, synchronised and its frames resized to the model's image size once; the
result is cached as .npy files (memory-mapped on later epochs, so nothing is re-decoded and big
datasets need not fit in RAM) plus a meta.json. The cache key covers the bag's path, size and
mtime and every reading option, so a changed bag or option rebuilds its entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from tqdm import tqdm

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.data.augment import colour_jitter, draw_shift, shift_by
from gr1_core.data.clips import CLIP_FILE, is_clip, load_clip
from gr1_core.data.episode import load_episode
from gr1_core.data.target_pixel import target_pixels
from gr1_core.data.topics import TopicMap
from gr1_core.data.windows import build_window, relative_actions, teacher_actions, window_starts
from gr1_core.model.gr1 import INSTRUCTION_TOKENS
from gr1_core.model.losses import GRIPPER_LABELLED
from gr1_core.processors import ImageProcessor, StateProcessor

CACHE_VERSION = 1


def find_bags(root: str | Path) -> list[Path]:
    """rosbag2 directories (metadata.yaml or .mcap inside), loose .mcap files and video clip
    folders (clip.yaml, see gr1_core.data.clips) under root. Symbolic links to bags are followed,
    so a data set can be a folder of links (e.g. a held-out split of another one); each folder is
    walked once (a link loop, or two links to one folder, does not repeat its bags) and each bag,
    by its real path, is listed once."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"data path {root} does not exist"
                                + (" (a broken symbolic link)" if root.is_symlink() else ""))
    if (root / "metadata.yaml").is_file() or (root.is_file() and root.suffix == ".mcap") or is_clip(root):
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"data path {root} is a file, not a bag (.mcap) or a folder of bags")
    bags: dict[Path, Path] = {}  # real path -> the path it was found under
    mcaps: list[Path] = []
    seen: set[Path] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = Path(folder).resolve()
        if real in seen:  # a link back up the tree, or a second link to a walked folder
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in sorted(dirs) if not d.startswith(".")]  # e.g. the window cache
        here = Path(folder)
        if CLIP_FILE in files or "metadata.yaml" in files:
            bags.setdefault(real, here)
        mcaps += [here / f for f in sorted(files) if f.endswith(".mcap")]
    for mcap in mcaps:
        bag = mcap.parent if mcap.parent != root else mcap
        if mcap.parent.resolve() not in bags:
            bags.setdefault(bag.resolve(), bag)
    return sorted(bags.values())


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, size, size, 3) uint8, bicubic with antialiasing (as at runtime)."""
    if frames.shape[1:3] == (size, size):
        return frames
    out = []
    for chunk in np.array_split(frames, max(1, len(frames) // 64)):
        x = torch.from_numpy(np.ascontiguousarray(chunk)).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out.append(x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def cache_episode(bag: Path, cache_dir: Path, image_size: int, topics: TopicMap,
                  rate: float) -> Path:
    """Build (or find) the cache entry of one bag; returns its directory."""
    st = bag.stat() if bag.is_file() else max((f.stat() for f in bag.iterdir()),
                                               key=lambda s: s.st_mtime)
    key = json.dumps([CACHE_VERSION, str(bag.resolve()), st.st_size, st.st_mtime_ns,
                      image_size, topics.as_dict(), rate])
    entry = cache_dir / hashlib.sha1(key.encode()).hexdigest()[:16]
    if (entry / "meta.json").is_file():
        return entry
    if entry.exists():  # left incomplete by a crash: rebuild it
        shutil.rmtree(entry)
    ep = load_clip(bag, rate) if is_clip(bag) else load_episode(bag, topics, rate)
    # Built in a private folder and renamed: DDP ranks or workers caching at once cannot clash.
    tmp = entry.with_name(f"{entry.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        _write_entry(ep, tmp, image_size, bag)
    except BaseException:  # SIGINT, a full disk: leave no half entry behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(entry)
    except OSError:  # another process finished the same entry first
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def _write_entry(ep, tmp: Path, image_size: int, bag: Path) -> None:
    if ep.expert_arm is not None:  # DAgger: the poses are the learner's, the labels the teacher's
        arm, grip = teacher_actions(ep.expert_arm, ep.expert_open)
    else:
        arm, grip = relative_actions(ep.arm_state, ep.gripper_open)
    arrays = {
        keys.RGB_STATIC: resize_frames(ep.rgb_static, image_size),
        keys.RGB_WRIST: resize_frames(ep.rgb_wrist, image_size),
        keys.ARM_STATE: ep.arm_state.astype(np.float32),
        keys.GRIPPER_STATE: np.where(ep.gripper_open, 1.0, -1.0).astype(np.float32),
        keys.ARM_ACTION: arm,
        keys.GRIPPER_ACTION: grip,
    }
    if ep.target_object is not None:
        arrays[keys.TARGET_POSITION] = ep.target_object.astype(np.float32)
    for name, value in arrays.items():
        np.save(tmp / f"{name}.npy", value)
    meta = {"bag": str(bag), "ticks": len(ep), "instruction": ep.instruction,
            "damage": ep.damage.describe() if ep.damage else None,
            "labels": "expert_action" if ep.expert_arm is not None else "pose differences",
            **{k: v for k, v in ep.meta.items() if k in ("seed", "success", "task", "clip")}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


class WindowDataset(Dataset):
    """Windows of every episode under `data`.

    mode "finetune": images, state, actions, mask, instruction tokens (GR1.forward + gr1_losses).
    mode "pretrain": video-only clips: images, mask and instruction tokens, no state or actions.
    Episodes whose sidecar says success: false, and video clips, are skipped for fine-tuning
    (keep_failures=True keeps the failures); a failed episode with a teacher's labels (DAgger)
    is kept: its labels say how to recover, whatever the learner did.
    shift > 0 translates each window's frames by up to +-shift pixels (augment.random_shift), for
    training sets only; colour > 0 scales each window's brightness, contrast and saturation per
    camera by factors in 1 +- colour (augment.colour_jitter, hue kept). `state` is the
    checkpoint's state processor (raw poses by default), so training sees the poses the runtime
    feeds. `paraphrases` (data.paraphrases.read_groups) gives
    each window an instruction drawn from its episode's group, for training sets only.
    """

    def __init__(self, data: str | Path | list[Path], config: GR1Config, mode: str = "finetune",
                 cache_dir: str | Path | None = None, topics: TopicMap | None = None,
                 rate: float = 30.0, stride: int = 1, keep_failures: bool = False,
                 progress: bool = True, shift: int = 0, colour: float = 0.0,
                 state: StateProcessor | None = None,
                 paraphrases: dict[str, list[str]] | None = None,
                 projection: np.ndarray | None = None) -> None:
        if mode not in ("finetune", "pretrain"):
            raise ValueError(f"mode must be 'finetune' or 'pretrain', got {mode!r}")
        bags = data if isinstance(data, list) else find_bags(data)
        if not bags:
            raise FileNotFoundError(f"no rosbag2 bags under {data} (no folder with metadata.yaml "
                                    "or an .mcap file, no clip.yaml); give the folder the bags are in")
        root = Path(data if not isinstance(data, list) else bags[0].parent)
        self.cache_dir = Path(cache_dir) if cache_dir else (root if root.is_dir() else root.parent) / ".gr1_cache"
        self.config, self.mode = config, mode
        if shift < 0 or shift >= config.image_size // 2:
            raise ValueError(f"shift {shift!r} px must be in 0..{config.image_size // 2 - 1} for "
                             f"{config.image_size}x{config.image_size} images")
        self.shift = int(shift)
        if not 0.0 <= colour < 1.0:
            raise ValueError(f"colour jitter {colour!r} must be in [0, 1)")
        self.colour = float(colour)
        if projection is not None and not config.target_locator:
            raise ValueError("a target projection labels the target locator's map: the model "
                             f"has none (target_locator {config.target_locator!r})")
        self.projection = projection
        self.image = ImageProcessor(size=config.image_size)
        self.state = state or StateProcessor()
        self.episodes: list[dict] = []
        self.index: list[tuple[int, int]] = []
        self.skipped: list[str] = []
        topics = topics or TopicMap()
        for bag in tqdm(bags, desc="caching episodes", unit="bag", disable=not progress):
            entry = cache_episode(Path(bag), self.cache_dir, config.image_size, topics, rate)
            meta = json.loads((entry / "meta.json").read_text())
            if mode == "finetune" and meta.get("clip"):  # no actions: pre-training only
                self.skipped.append(str(bag))
                continue
            failed = meta.get("success") is False and meta.get("labels") != "expert_action"
            if mode == "finetune" and failed and not keep_failures:
                self.skipped.append(str(bag))
                continue
            ep_id = len(self.episodes)
            self.episodes.append({"bag": Path(bag), "dir": entry, "meta": meta, "arrays": None,
                                  "gripper_labelled": True})
            self.index += [(ep_id, s) for s in window_starts(meta["ticks"], config.window, stride)]
        from gr1_core.tokenizer import tokenizer_for

        tokenize = tokenizer_for(config)
        recorded = {e["meta"]["instruction"] for e in self.episodes}
        self._groups = {t: (paraphrases or {}).get(t, [t]) for t in recorded}
        texts = sorted({t for group in self._groups.values() for t in group})
        self._tokens = {t: tokenize(t, config.text_context)[0] for t in texts}

    def __len__(self) -> int:
        return len(self.index)

    def _arrays(self, ep: dict) -> dict[str, np.ndarray]:
        if ep["arrays"] is None:  # memory-mapped, opened lazily so DataLoader workers share it
            names = list(keys.CAMERAS)
            if self.mode == "finetune":
                names += [keys.ARM_STATE, keys.GRIPPER_STATE, keys.ARM_ACTION, keys.GRIPPER_ACTION]
                if self.config.target_head and (ep["dir"] / f"{keys.TARGET_POSITION}.npy").is_file():
                    names.append(keys.TARGET_POSITION)
            ep["arrays"] = {n: np.load(ep["dir"] / f"{n}.npy", mmap_mode="r") for n in names}
        return ep["arrays"]

    def arm_states(self) -> np.ndarray:
        """(ticks, 6) raw TCP poses of every episode in the set (finetune mode)."""
        if self.mode != "finetune":
            raise ValueError("a pretrain set has no arm states")
        return np.concatenate([np.asarray(self._arrays(ep)[keys.ARM_STATE]) for ep in self.episodes])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ep_id, start = self.index[i]
        ep = self.episodes[ep_id]
        win = build_window(self._arrays(ep), start, self.config.window,
                           video_only=self.mode == "pretrain", state=self.state)
        out = {k: torch.from_numpy(np.array(v)) for k, v in win.items()}  # copy: mmaps are read-only
        moved = (0, 0)  # rows, columns the static frames moved
        for cam in keys.CAMERAS:  # (T, S, S, 3) uint8 -> (T, 3, S, S) normalised
            if self.shift or self.colour:
                # torch's RNG, which DataLoader seeds per worker and the trainer per run
                rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
                y, x = draw_shift(self.shift, rng) if self.shift else (0, 0)
                frames = shift_by(out[cam].numpy(), self.shift, y, x)
                frames = colour_jitter(frames, self.colour, rng)
                out[cam] = torch.from_numpy(np.ascontiguousarray(frames))
                if cam == keys.RGB_STATIC:
                    moved = (self.shift - y, self.shift - x)
            out[cam] = self.image(out[cam])
        if self.projection is not None and self.mode == "finetune":
            out[keys.TARGET_PIXEL] = torch.from_numpy(target_pixels(
                win[keys.TARGET_POSITION], win[keys.TARGET_LABELLED], self.projection,
                self.config.image_size, moved) if keys.TARGET_POSITION in win
                else np.full(self.config.window, -1, np.int64))
        group = self._groups[ep["meta"]["instruction"]]
        text = group[int(torch.randint(len(group), ()))] if len(group) > 1 else group[0]
        out[INSTRUCTION_TOKENS] = torch.from_numpy(self._tokens[text])
        if self.mode == "finetune":
            out[GRIPPER_LABELLED] = torch.tensor(float(ep["gripper_labelled"]))
            if self.config.target_head and keys.TARGET_POSITION not in win:
                # every window has the keys, so batches collate; these slots weigh nothing
                out[keys.TARGET_POSITION] = torch.zeros(self.config.window, 3)
                out[keys.TARGET_LABELLED] = torch.zeros(self.config.window)
        return out
