"""Is this line page chrome?  A general, site-independent classifier for lines of government web pages
(and of their .txt/.md copies), scanned page furniture and office exports.

Chrome is what a portal wraps around every article, whatever the site: today's date with its weekday,
accessibility and language switches, login/search bars, breadcrumbs, share/print/close/font-size bars,
menus of portal sections, footers (网站地图, 联系我们, 主办单位, ICP备, 网站标识码, 公网安备, 版权所有),
visit counters and bare page numbers.  The vocabulary below is the portals' interface language, shared
by every Chinese government site; no site, agency or document is named.
"""
from __future__ import annotations

import re
import unicodedata

# Interface words of portal bars (accessibility, language, login, search, share, print, font size…)
UI_WORDS = frozenset("""
无障碍 无障碍浏览 无障碍阅读 信息无障碍 长者模式 关怀版 适老化 老年模式 读屏 读屏专用 语音播报 语音 指读 放大 缩小 大字幕 高对比度 纯文本 通用版
简体 繁体 简体中文 繁體 繁體中文 繁体版 简体版 English EN ENGLISH 中文 英文 Русский 日本語 한국어
登录 注册 个人登录 法人登录 用户登录 个人中心 退出 手机版 移动版 客户端 移动端 APP
搜索 高级搜索 站内搜索 全站搜索 检索 请输入关键字 请输入关键词 请输入搜索内容 热门搜索 热词
设为首页 加入收藏 收藏本站 网站导航 返回首页 返回列表 返回 返回上一页 返回顶部 回到顶部 顶部 TOP
打印 打印本页 打印此页 打印正文 关闭 关闭窗口 关闭本页 纠错 我要纠错 分享 分享到 收藏 字体 字号 大 中 小 默认 标准 超大
扫一扫 微信 微博 QQ QQ空间 新浪微博 腾讯微博 豆瓣 人人网 微信扫一扫 朋友圈 今日头条 头条号 抖音 政务微博 政务微信 官方微信 官方微博
网站地图 联系我们 网站声明 隐私声明 免责声明 使用帮助 帮助 关于我们 友情链接 网站纠错 意见建议 网站管理 后台管理 RSS 订阅
智能问答 智能客服 智能机器人 在线客服 政务服务网 政府网站 相关链接 相关文章 相关阅读 相关新闻 相关推荐 推荐阅读 视力保护色
""".split())
# Section names of portal menus (政务公开 / 政务服务 / 互动交流 …)
NAV_WORDS = frozenset("""
首页 网站首页 主页 政务公开 政府信息公开 信息公开 政务服务 办事服务 网上办事 互动交流 政民互动 公众参与 新闻中心 新闻动态 要闻动态
工作动态 政务动态 部门动态 基层动态 乡镇动态 通知公告 公示公告 图片新闻 视频新闻 媒体聚焦 政策文件 政策解读 法规文件 规范性文件
政府文件 机构概况 机构设置 机构职能 领导信息 领导之窗 领导简介 专题专栏 专题专栏 数据开放 数据发布 统计数据 统计信息 在线访谈
留言咨询 民意征集 网上调查 意见征集 征集调查 书记信箱 区长信箱 县长信箱 市长信箱 局长信箱 主任信箱 领导信箱 投诉举报 便民服务
走进 概况 地方概况 人文历史 投资 招商引资 旅游 文化 公共服务 政府工作报告 人事信息 财政信息 重点领域 年度报告 政府信息公开年报
信息公开指南 信息公开制度 信息公开目录 依申请公开 法定主动公开内容 主动公开 政务要闻 今日要闻 热点专题 建议提案 常见问题
""".split())

_SPLIT = re.compile(r"[\s|｜/／\\·•●◆▪■□【】\[\]（）()<>〈〉《》>›»→:：,，、;；\-—–_]+")
_TODAY = re.compile(
    r"^(?:今天是|今日|当前日期)?[:：]?\s*(?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?\s*"
    r"[,，]?\s*(?:星期|周|礼拜)[一二三四五六日天](?:\s*.{0,30})?$")
_WEEKDAY_ONLY = re.compile(r"^(?:今天是)?\s*(?:星期|周)[一二三四五六日天]\s*$")
_BREADCRUMB = re.compile(r"^(?:您所在的位置|您当前的位置|您现在的位置|您的位置|当前位置|所在位置|当前的位置|位置)\s*[:：]")
_CRUMB_SEP = re.compile(r"\s*[>›»→]\s*|\s+[/／]\s+|\s*>>\s*")
_FOOTER = re.compile(
    r"ICP\s*备|ICP\s*证|网站标识码|公网安备|版权所有|Copyright|©|\(c\)\s*\d{4}|主办单位\s*[:：]|承办单位\s*[:：]|"
    r"协办单位\s*[:：]|主办\s*[:：]|承办\s*[:：]|技术支持\s*[:：]|运维单位\s*[:：]|维护单位\s*[:：]|运行维护\s*[:：]|"
    r"建议使用.{0,30}浏览器|浏览器.{0,20}(?:分辨率|浏览本站)|最佳浏览|分辨率\s*\d|IPv6|网站支持|政府网站找错|"
    r"本网站由|未经授权.{0,10}(?:转载|复制)|邮\s*编\s*[:：]\s*\d{6}", re.I)
_COUNTER = re.compile(
    r"(?:浏览次数|浏览量|点击数|点击量|点击率|访问量|访问次数|阅读次数|阅读量|阅读数|访问人次|总访问量|今日访问)\s*[:：]?\s*\d+"
    r"|您是(?:本站)?第\s*\d+\s*(?:位|个)(?:访客|访问者)")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－―]\s*\d{1,4}\s*[-—–－―]|第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4}|"
    r"共\s*\d{1,4}\s*页.{0,12}|\d{1,4})$")
_PREV_NEXT = re.compile(r"^(?:上一篇|下一篇|上一条|下一条|上一页|下一页)\s*[:：]?")
_SCAN_ME = re.compile(r"^(?:扫一扫|用微信扫|手机扫描|扫描二维码|手机阅读|在手机上(?:查看|打开)|手机查看)")
_SENTENCE_END = re.compile(r"[。；;！？!?]$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _tokens(line: str) -> list[str]:
    return [t for t in _SPLIT.split(line) if t]


_MAX_WORD = max(len(w) for w in UI_WORDS | NAV_WORDS)


def _chrome_word(token: str) -> bool:
    """An interface/menu word, or several run together ("注册搜索" from buttons without a separator)."""
    if token in UI_WORDS or token in NAV_WORDS or (token.startswith("走进") and len(token) <= 8):
        return True
    ok = [True] + [False] * len(token)  # ok[i]: token[:i] splits into chrome words
    for i in range(1, len(token) + 1):
        ok[i] = any(ok[j] and (token[j:i] in UI_WORDS or token[j:i] in NAV_WORDS)
                    for j in range(max(0, i - _MAX_WORD), i) if i - j >= 2 or token[j:i] in UI_WORDS)
    return ok[-1] and len(token) >= 4


def _word_chrome(tokens: list[str]) -> bool:
    """Every token is an interface or menu word (a bar of buttons or a menu of sections)."""
    if not tokens:
        return False
    ui = sum(1 for t in tokens if _chrome_word(t))
    return ui == len(tokens) and (len(tokens) >= 2 or tokens[0] in UI_WORDS)


def _menu_line(tokens: list[str]) -> bool:
    """A menu flattened into a line: several short labels without sentence marks, most of them section names."""
    if len(tokens) < 4 or any(len(t) > 10 for t in tokens):
        return False
    nav = sum(1 for t in tokens if t in NAV_WORDS or t in UI_WORDS or t.startswith("走进"))
    return nav >= 3 and nav * 2 >= len(tokens)


def is_nav_item(line: str) -> bool:
    """A single menu label on its own line (only chrome when several such lines follow each other)."""
    s = _MD_LINK.sub(r"\1", unicodedata.normalize("NFKC", line)).strip().lstrip("*-• ").strip()
    return s in NAV_WORDS or (s.startswith("走进") and len(s) <= 8)


def is_chrome(line: str) -> bool:
    # a Markdown copy keeps links as [text](url): the reader sees the text
    s = _MD_LINK.sub(r"\1", unicodedata.normalize("NFKC", line)).strip().lstrip("#").strip()
    if not s:
        return False
    if len(s) > 160 or _SENTENCE_END.search(s):
        return False
    if _TODAY.match(s) or _WEEKDAY_ONLY.match(s) or _BREADCRUMB.match(s) or _PREV_NEXT.match(s) or _SCAN_ME.match(s):
        return True
    if _PAGE_NUMBER.fullmatch(s):
        return True
    if len(s) <= 120 and (_FOOTER.search(s) or _COUNTER.search(s)):
        return True
    parts = _CRUMB_SEP.split(s)
    if len(parts) >= 2 and parts[0] in ("首页", "网站首页", "主页", "当前位置", "首页>"):
        return True  # 首页 > 政务公开 > 通知公告
    tokens = _tokens(s)
    return _word_chrome(tokens) or _menu_line(tokens)


_ORG_NAME = re.compile(r"^[\u4e00-\u9fa5]{2,24}(?:人民政府|政府|委员会|管理局|局|办公室|办公厅|厅|委|门户网站|政府网|网站|网)$")
_DOC_WORDS = re.compile(r"(报告|总结|意见|纲要|方案|决定|办法|条例|规定|通知|法|规则|细则|计划|批复|函)$")


def site_header(lines: list[str], limit: int = 6) -> int | None:
    """Index of a site banner above the document's title: a line that is only an office or site name
    ("某某区人民政府", "某某市人民政府门户网站") among the first lines, followed within a few lines by a title
    line (one ending in a document-type word).  A title naming its issuer ("…关于…的报告") is never it."""
    seen = [(i, ln.strip()) for i, ln in enumerate(lines) if ln.strip()][:limit]
    for k, (i, text) in enumerate(seen):
        s = re.sub(r"^#+\s*", "", _MD_LINK.sub(r"\1", unicodedata.normalize("NFKC", text)))
        if _ORG_NAME.match(s) and any(_DOC_WORDS.search(re.sub(r"^#+\s*", "", t)) for _, t in seen[k + 1:k + 4]):
            return i
    return None
