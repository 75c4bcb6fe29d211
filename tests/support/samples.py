"""Samples the scoring tests share."""

from __future__ import annotations

# A Chinese sample whose answer its first context supports (CJK text is judged by
# character, BLEU and ROUGE near 0 on it).
GREAT_WALL = {
    "sample_id": "zh-great-wall",
    "question": "长城有多长？",
    "answer": "长城全长约两万一千多公里。",
    "contexts": [
        "长城是中国古代的军事防御工程，全长约两万一千多公里。",
        "长城始建于春秋战国时期。",
    ],
    "ground_truth": "长城全长约两万一千公里。",
}
