"""The one table of Chinese labels the answering core and every renderer (CLI, web, Word/Markdown) show."""
from __future__ import annotations

MODE_ZH = {"ask": "问答", "compare": "对比", "draft": "起草", "check": "核对", "quiz": "出题"}
KIND_ZH = {"report": "工作报告", "outline": "纲要/指导文件", "law": "法律法规"}
# check verdicts (answers) and review verdicts (a whole draft: one more, for facts only the agency knows)
VERDICT_ZH = {"supported": "属实（与来源一致）", "contradicted": "与来源不符", "not_found": "知识库中未找到依据"}
REVIEW_VERDICT_ZH = {"supported": "与来源一致", "contradicted": "与来源不符", "not_found": "知识库中未找到依据",
                     "needs_agency_records": "需以本单位台账核实"}
FLAG_REASON_ZH = {"unsupported": "来源不支持", "dangling_marker": "引用编号无对应来源", "uncited": "未标注来源",
                  "number_mismatch": "数字与来源不符"}
FLAG_ACTION_ZH = {"dropped": "已删除", "marked": "已标注", "marker_removed": "已移除引用编号"}
QUIZ_TYPE_ZH = {"fill": "填空题", "choice": "选择题", "judge": "判断题"}
PART_STATUS_ZH = {"present": "具备", "thin": "内容单薄", "missing": "缺失"}
PART_HOW_ZH = {"heading": "有专门标题", "content": "未单列标题，散见于正文", "none": "未找到"}
