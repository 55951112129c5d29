"""Does a text change what a customer pays? Read for amounts and their meaning, not for words.

A model's proposal or draft must not change price, discount, credit, refund or terms: money is
the chairman's decision (config/escalation.yaml's strategic decisions, through an escalation).
"50% discount" is easy; "waive half the fee", "a 50 percent cheaper renewal", "two months on us"
and "move them to net 90" say the same. So this reads:

- **amounts**: a currency (``$``, ``€``, ``USD``, "dollars") with a number;
- **reductions**: a share (``20%``, "20 percent", "half", "a third") of a price, or with a word
  that makes it cheaper (off, cheaper, less, lower, discount);
- **concessions**: a verb that changes what is paid (waive, refund, lower, cut, halve, comp,
  freeze, match, defer, renegotiate) acting on a commercial object (price, fee, bill, invoice,
  subscription, licence, renewal, contract, terms, payment);
- **free time and goods**: free months, seats or upgrades, "on us", "at no cost",
  complimentary, a trial or subscription extended;
- **terms**: payment terms, net 60, cancelling without penalty, a minimum commitment dropped.

Numbers about the customer's health (scores, usage, tickets, ARR quoted as a figure) are not a
change to what they pay, and pass. Pure: a function of the text.
"""

from __future__ import annotations

import re
import unicodedata

#: Things a customer pays for, or the terms they pay under.
_OBJECT = (
    r"(?:price|prices|pricing|fee|fees|cost|costs|bill|bills|billing|invoice|invoices|"
    r"subscription|subscriptions|licen[cs]e|licen[cs]es|renewal|renewals|contract|contracts|"
    r"terms|charge|charges|overage|overages|quote|payment|payments|minimum commitment|"
    r"commitment|add-on|addon|add-ons|addons|premium tier|seat price|list price)"
)
#: What is plainly a price (a plain change verb on it changes what is paid).
_PRICE = (
    r"(?:price|prices|pricing|fee|fees|bill|bills|invoice|invoices|charge|charges|overage|"
    r"overages|quote|payment|payments|licen[cs]e fee|list price|seat price|terms|"
    r"minimum commitment|(?:subscription|renewal|contract|licen[cs]e|seat|plan|tier|setup) "
    r"(?:fee|price|cost|quote|rate)s?|cost of (?:the |their |a |an )?(?:renewal|subscription|"
    r"plan|licen[cs]es?|seats?|contract))"
)
#: Verbs that only ever change what is paid.
_CONCEDE = (
    r"(?:waive|waives|waived|waiving|forgive|forgives|forgiven|discount|discounts|discounted|"
    r"discounting|comp|comps|comped|refund|refunds|refunded|refunding|credit|credits|credited|"
    r"reimburse|reimburses|reimbursed|rebate|halve|halves|halved|halving|knock|knocks|knocked|"
    r"shave|shaves|shaved|write off|writes off|written off|absorb|absorbs|absorbed|"
    r"zero out|zeroes out|zeroed out)"
)
#: Verbs that change what is paid when they act on a price.
_CHANGE = (
    r"(?:lower|lowers|lowered|lowering|reduce|reduces|reduced|reducing|cut|cuts|cutting|"
    r"drop|drops|dropped|dropping|slash|slashes|slashed|trim|trims|trimmed|freeze|freezes|"
    r"frozen|lock|locks|locked|match|matches|matched|beat|adjust|adjusts|adjusted|"
    r"renegotiate|renegotiates|renegotiated|rewrite|amend|amends|amended|relax|relaxes|"
    r"relaxed|loosen|defer|defers|deferred|postpone|postpones|postponed|delay|delays|delayed|"
    r"skip|skips|skipped|cancel|cancels|cancelled|canceled|remove|removes|removed|scrap|"
    r"scraps|scrapped|cover|covers|covered|pick up|split)"
)
_SHARE = (
    r"(?:\d+(?:\.\d+)?\s*(?:%|percent|pct)|half|a third|one third|two thirds|a quarter|"
    r"one quarter|three quarters|a fifth|a tenth)"
)
#: Words that make a share a saving ("20% off", "half cheaper"); "lower" and "down" are left
#: out: "usage is 40 percent lower" is about usage.
_CHEAPER = r"(?:off|cheaper|discount|discounted|rebate|savings?|less to pay)"
_GAP = r"(?:\s+\S+){0,4}?\s+"  # up to four words between the parts of one phrase
_TIME_OR_GOODS = (
    r"(?:months?|weeks?|years?|quarters?|seats?|licen[cs]es?|upgrades?|tiers?|plans?|period|"
    r"renewal|add-?ons?|usage|users?|credits?|extension)"
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        # Amounts of money.
        ("an amount", r"[$€£¥]\s?\d|\d\s?[$€£¥]"),
        ("an amount", r"\b(?:usd|eur|gbp|chf|jpy|cad|aud)\s?\d|\d[\d,.]*\s?(?:usd|eur|gbp|chf)\b"),
        ("an amount", r"\d[\d,.]*\s*(?:k\s+)?(?:dollars?|euros?|pounds? sterling|bucks)\b"),
        # Concession nouns.
        ("a discount", r"\bdiscount(?:s|ed|ing)?\b"),
        ("a refund", r"\brefund(?:s|ed|ing|able)?\b|money[- ]back|\breimburse"),
        ("a rebate", r"\brebates?\b"),
        ("a coupon", r"\b(?:coupon|voucher|promo(?:tion(?:al)?)? code|promo)\b"),
        (
            "a credit",
            r"\b(?:service|account|billing|invoice|usage|loyalty|goodwill) credits?\b|"
            r"\b(?:issue|apply|give|offer|grant|add|provide)(?:\s+\S+){0,3}\s+credits?\b|"
            r"\bcredits?\s+(?:of|worth|toward|towards|against)\b|"
            r"\bcredit (?:back|the account|their account|the invoice)\b",
        ),
        # A share of a price, or a share that makes it cheaper.
        ("a price cut", rf"\b{_SHARE}{_GAP}{_CHEAPER}\b"),
        ("a price cut", rf"\b{_SHARE}\s*[- ]\s*(?:price|priced|off)\b"),
        ("a price cut", rf"\b{_SHARE}\s+(?:of\s+)?(?:the\s+|their\s+|its\s+|our\s+)?{_OBJECT}\b"),
        ("a price cut", rf"\b{_CHEAPER}\s+(?:by\s+)?{_SHARE}\b"),
        (
            "a price cut",
            r"\b(?:cheaper|less expensive|lower[- ]priced|reduced (?:price|rate|fee)|"
            r"special (?:price|pricing|rate|offer|deal)|"
            r"loyalty (?:price|pricing|offer|deal|rate|reduction|cut)"
            r"|price (?:cut|drop|reduction|break|decrease|concession|match|freeze|lock|"
            r"protection|guarantee|adjustment)|pricing (?:concession|adjustment|exception)|"
            r"(?:freeze|lock)(?: in)?(?:\s+\S+){0,2}\s+rates?)\b",
        ),
        # Verbs that change what is paid, on something paid for (either order).
        ("a change to what they pay", rf"\b{_CONCEDE}{_GAP}{_OBJECT}\b"),
        ("a change to what they pay", rf"\b{_CHANGE}{_GAP}{_PRICE}\b"),
        (
            "a change to what they pay",
            rf"\b{_PRICE}\s+(?:\S+\s+){{0,3}}?(?:be\s+)?(?:{_CONCEDE}|{_CHANGE})\b",
        ),
        (
            "a change to what they pay",
            rf"\b(?:pay|charge|bill|invoice|cost)(?:s|ed|ing)?\s+(?:them\s+|him\s+|her\s+)?"
            rf"(?:{_SHARE}\s+)?(?:less|nothing|half|zero|a fraction)\b|"
            r"\b(?:not|no longer|never) (?:be )?"
            r"(?:charged|billed|invoiced)\b|\bwon'?t (?:be )?(?:charged|billed|pay)\b",
        ),
        # Free time, seats and upgrades.
        # ("the free tier", "the free plan" name products: a move onto one is read below.)
        ("something free", rf"\bfree\s+(?!tier|plan)(?:\w+\s+)?(?!tier|plan){_TIME_OR_GOODS}\b"),
        (
            "something free",
            rf"\b{_TIME_OR_GOODS}\s+(?:\w+\s+)?(?:free|for free|on us|on the house|gratis)\b",
        ),
        (
            "something free",
            r"\bfree of charge\b|\bat no (?:extra |additional )?(?:cost|charge)\b|"
            r"\bno (?:extra |additional )?charge\b|\bwithout (?:any )?charge\b|\bon the house\b|"
            r"\bcomplimentary\b|\bgratis\b|\bfor free\b|\bbonus (?:months?|weeks?|seats?|"
            r"licen[cs]es?)\b|\bextra months?\b",
        ),
        (
            "something free",
            r"\bextend(?:s|ed|ing)?\s+(?:\w+\s+){0,2}(?:trial|subscription|contract|term|"
            r"licen[cs]e|plan)\b",
        ),
        (
            "a price cut",
            r"\b(?:match|matching|matches|beat|beating|undercut)\w*\s+(?:\S+\s+){0,3}?"
            r"competitor|\bcompetitor'?s?\s+(?:price|pricing|quote|offer|rate)|"
            r"\b(?:last year'?s|the old|the previous|the current|the existing|today'?s) "
            r"(?:rate|price|pricing)\b|\b(?:\d|one|two|three) for (?:\d|one|two)\b|"
            r"\bfor the price of\b|\bat cost\b|\b(?:nonprofit|non-profit|education|"
            r"academic|startup|partner|friends and family|internal|founder) "
            r"(?:rate|price|pricing|plan)\b",
        ),
        # Terms.
        (
            "a change of terms",
            r"\bwithout (?:any )?(?:billing|paying|payment|charging|being charged|cost)\b|"
            r"\bgrace period\b|\b(?:installment|instalment|payment) plan\b|"
            r"\b(?:days|weeks|months|time) to pay\b|\b(?:seat|user|licen[cs]e) minimum\b|"
            r"\bminimum (?:seats|users|licen[cs]es|spend|term)\b",
        ),
        (
            "a change of terms",
            r"\bpayment terms?\b|\bnet[- ]?\d{2,3}\b|\b(?:early|penalty[- ]free) "
            r"(?:termination|cancellation|exit)\b|\bwithout (?:a |any )?(?:penalty|fee|"
            r"early termination)\b|\bbuy one,? get\b|\bsame price\b",
        ),
        (
            "a change of terms",
            r"\b(?:contract|agreement|sla|commitment|minimum|terms)\s+(?:\S+\s+){0,2}?"
            r"(?:in (?:their|the customer'?s) favou?r|waived|dropped|removed|relaxed)\b|"
            r"\bin (?:their|the customer'?s) favou?r\b",
        ),
    )
)


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)  # dashes and minus signs
    text = text.replace("\u2019", "'").replace("\u00a0", " ")
    text = re.sub(r"\bper\s*cent\b", "percent", text)
    return re.sub(r"\s+", " ", text)


#: Something paid, as a noun or a verb ("the price", "invoice them", "billing"), unless it only
#: names a thing about paying ("the price page", "their invoice contact", "the pricing model").
_PAID = re.compile(
    r"\b(?:price|prices|priced|pricing|fee|fees|bill|bills|billed|billing|invoice|invoices|"
    r"invoiced|invoicing|charge|charges|charged|charging|overage|overages|quote|quoted|payment|"
    r"payments|contract value|cost of (?:the |their |a |an )?\w+|renewal cost|"
    r"subscription cost|for the price of)\b"
    r"(?!\s+(?:page|pages|contact|contacts|model|models|owner|portal|address|e-?mail|team|"
    r"system|history|report|reports|details|process|question|questions|documentation|docs|tab|"
    r"screen|settings|calculator|dispute))"
)
#: What makes a clause about something paid a change to it: a verb of change, a comparison, a
#: paying that does not happen, something free, a share or an amount.
_SHIFT = re.compile(
    r"\b(?:lower\w*|reduc\w*|cut|cuts|cutting|trim\w*|drop\w*|slash\w*|halv\w*|waiv\w*|"
    r"forgiv\w*|refund\w*|credit\w*|rebat\w*|discount\w*|comp|comped|roll(?:ed|ing|s)? back|"
    r"pause\w*|paus\w*|stop\w*|hold\w*|freez\w*|frozen|lock\w*|keep|kept|stay\w*|remain\w*|"
    r"same|equal|match\w*|split\w*|shar(?:e|ed|ing)|absorb\w*|cover\w*|defer\w*|"
    r"postpon\w*|delay\w*|skip\w*|cancel\w*|remov\w*|scrap\w*|increas\w*|rais\w*|"
    r"chang\w*|adjust\w*|renegotiat\w*|less|cheaper|smaller|legacy|old|previous|"
    r"last year'?s|first year'?s|free|no|not|never|won'?t|don'?t|doesn'?t|without|zero)\b"
    rf"|{_SHARE}|[$€£¥]|\d"
)


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[.;:!?\n]+|\bbut\b|\bwhile\b", text) if c.strip()]


def money_change(text: str) -> str | None:
    """What in ``text`` changes what a customer pays ("a price cut: 'waive half the fee'"), or
    None when it changes nothing a customer pays."""
    plain = _normalised(text)
    for name, pattern in _PATTERNS:
        found = pattern.search(plain)
        if found:
            return f"{name}: {_quoted(found.group(0))}"
    for clause in _clauses(plain):
        paid = _PAID.search(clause)
        if paid and _SHIFT.search(clause):
            return f"a change to what they pay: {_quoted(clause)}"
    return None


def _quoted(phrase: str, limit: int = 50) -> str:
    """The phrase quoted for a reason (reasons are kept short: they are cut when stored)."""
    phrase = phrase.strip()
    return repr(phrase if len(phrase) <= limit else phrase[:limit].rstrip() + "...")
