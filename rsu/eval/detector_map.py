"""COCO mAP of detections against labelled boxes, by pycocotools (bbox, area all, maxDets 100)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["coco_map"]


def _xywh(xyxy: np.ndarray) -> list[list[float]]:
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).tolist()


def coco_map(classes: Sequence[str], truth_boxes: Sequence[np.ndarray], truth_ids: Sequence[np.ndarray],
             det_boxes: Sequence[np.ndarray], det_ids: Sequence[np.ndarray],
             det_scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """mAP50, mAP50-95 and AP50 per class, one entry per image in each sequence (class ids index ``classes``).

    A class with no truth box in any image is left out of the means (COCO's rule); ``map50`` is None when no
    class has a truth box.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("the detector mAP needs pycocotools: pip install 'rsu[tools]'",
                                  name=exc.name) from None
    images = [{"id": i + 1} for i in range(len(truth_boxes))]
    annotations = []
    for i, (boxes, ids) in enumerate(zip(truth_boxes, truth_ids)):
        for box, cid in zip(_xywh(boxes), np.asarray(ids).tolist()):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(cid) + 1,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    results = [{"image_id": i + 1, "category_id": int(cid) + 1, "bbox": box, "score": float(score)}
               for i, (boxes, ids, scores) in enumerate(zip(det_boxes, det_ids, det_scores))
               for box, cid, score in zip(_xywh(boxes), np.asarray(ids).tolist(), np.asarray(scores).tolist())]
    with_truth = sorted({a["category_id"] - 1 for a in annotations})
    if not with_truth:
        return {"map50": None, "map50_95": None, "per_class_ap50": {}}
    if not results:  # loadRes cannot take an empty list; nothing found scores 0
        return {"map50": 0.0, "map50_95": 0.0, "per_class_ap50": {classes[k]: 0.0 for k in with_truth}}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress on stdout
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": k + 1, "name": n} for k, n in enumerate(classes)]}
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [IoU thresholds, recall points, classes, area ranges, maxDets]; area "all", maxDets 100
    area = evaluator.params.areaRngLbl.index("all")
    dets = evaluator.params.maxDets.index(100)
    precision = evaluator.eval["precision"][:, :, :, area, dets]
    iou50 = int(np.argmin(np.abs(evaluator.params.iouThrs - 0.5)))

    def mean(p: np.ndarray) -> float:
        valid = p[p > -1]
        return float(valid.mean()) if valid.size else 0.0

    cat_ids = list(evaluator.params.catIds)
    per_class = {classes[k]: round(mean(precision[iou50, :, cat_ids.index(k + 1)]), 6) for k in with_truth}
    return {"map50": mean(precision[iou50]), "map50_95": mean(precision), "per_class_ap50": per_class}
