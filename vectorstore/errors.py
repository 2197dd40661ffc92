"""The knowledge base's errors (raised by the store, shown by every delivery)."""
from __future__ import annotations

from pathlib import Path


class KnowledgeBaseError(Exception):
    pass


class KnowledgeBaseUnavailable(KnowledgeBaseError):
    """The knowledge-base folder cannot be opened for writing (read-only, full, not a folder)."""

    def __init__(self, folder: Path, exc: BaseException) -> None:
        import errno

        code = getattr(exc, "errno", None)
        if code == errno.ENOSPC or "full" in str(exc).lower():
            why_zh, why_en = "磁盘已满", "the disk is full"
        elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in str(exc).lower() \
                or "unable to open" in str(exc).lower():
            why_zh, why_en = "文件夹只读或无写入权限", "it is read-only or not writable"
        elif code == errno.ENOTDIR:
            why_zh, why_en = "路径中有同名文件，不是文件夹", "a part of the path is a file, not a folder"
        else:
            why_zh, why_en = "无法打开", f"{type(exc).__name__}: {exc}"
        super().__init__(f"知识库文件夹无法使用（{why_zh}）：{folder}。请用 --kb 或 FAZHI_KB 指定可写的文件夹。 / "
                         f"cannot use the knowledge-base folder {folder} ({why_en}); give a writable one with --kb "
                         f"or FAZHI_KB")


class DatabaseUnavailable(KnowledgeBaseError):
    """The PostgreSQL server of FAZHI_DATABASE_URL cannot be reached or refuses the login."""

    def __init__(self, where: str, exc: BaseException) -> None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        super().__init__(f"无法连接知识库数据库：{where}（{first}）。请检查 FAZHI_DATABASE_URL 和数据库服务。 / "
                         f"cannot reach the knowledge-base database {where} ({first}); check FAZHI_DATABASE_URL "
                         f"and the database server")


class DuplicateContent(KnowledgeBaseError):
    """Another document already holds exactly these bytes."""

    def __init__(self, existing: str) -> None:
        super().__init__(f"same content as {existing}")
        self.existing = existing
