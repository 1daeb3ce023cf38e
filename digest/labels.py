"""The words the default templates use, per language; a newsletter can override any of them."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LABELS", "labels_for"]

LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "edition": "Edition",
        "read_more": "Read more",
        "read_more_about": "Read more about",
        "by": "By",
        "photo": "Photo",
        "quote": "Quote of the week",
        "quote_open": "“",
        "quote_close": "”",
        "follow_us": "Connect with us",
        "why": "You are receiving this email because you subscribed to {name}.",
        "unsubscribe": "Unsubscribe",
        "also": "Also",
        "view_online": "View this edition in your browser",
        "archive": "All editions",
    },
    "id": {
        "edition": "Edisi",
        "read_more": "Baca selengkapnya",
        "read_more_about": "Baca selengkapnya tentang",
        "by": "Oleh",
        "photo": "Foto",
        "quote": "Kutipan pekan ini",
        "quote_open": "“",
        "quote_close": "”",
        "follow_us": "Terhubung dengan kami",
        "why": "Anda menerima email ini karena berlangganan {name}.",
        "unsubscribe": "Berhenti berlangganan",
        "also": "Juga",
        "view_online": "Lihat edisi ini di peramban",
        "archive": "Semua edisi",
    },
    "ar": {
        "edition": "العدد",
        "read_more": "اقرأ المزيد",
        "read_more_about": "اقرأ المزيد عن",
        "by": "بقلم",
        "photo": "صورة",
        "quote": "اقتباس الأسبوع",
        "quote_open": "«",
        "quote_close": "»",
        "follow_us": "تابعونا",
        "why": "تصلك هذه الرسالة لأنك مشترك في {name}.",
        "unsubscribe": "إلغاء الاشتراك",
        "also": "أيضًا",
        "view_online": "اعرض هذا العدد في المتصفح",
        "archive": "كل الأعداد",
    },
}


def labels_for(locale: str, overrides: Mapping[str, str] = {}) -> dict[str, str]:
    """Return the labels for ``locale`` (falling back to English) with ``overrides`` applied."""
    language = locale.split("_", 1)[0]
    labels = dict(LABELS["en"])
    labels.update(LABELS.get(language, {}))
    labels.update(overrides)
    return labels
