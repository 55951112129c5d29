"""The money guardrail reads amounts and their meaning: paraphrases of a discount, a credit, a
refund, free time or new terms are blocked however they are worded; what a customer-success
team writes about health, usage and next steps passes. (The counts are in the comments of the
lists; docs/llm.md quotes them.)"""

from __future__ import annotations

import pytest

from successcrew.domain.money_talk import money_change
from successcrew.domain.proposal_rules import text_problem

#: 45 ways a model could change what a customer pays, written with the rules. Every one must be
#: blocked (the word list the guardrail replaced blocked 11 of them).
CHANGES_WHAT_THEY_PAY = [
    "Offer a 50% discount on the renewal.",
    "Waive half the fee for next quarter.",
    "Give them a 50 percent cheaper renewal.",
    "Propose a half-price renewal for this account.",
    "Take 20% off their next invoice.",
    "Knock $5,000 off the contract.",
    "Give them two free months.",
    "Throw in three months on us.",
    "Extend their subscription by a quarter at no extra cost.",
    "Refund last month's charges.",
    "Issue a service credit of 10 percent.",
    "Apply an account credit toward the next bill.",
    "Lower their price to keep them.",
    "Cut the licence fee by a third.",
    "Match the competitor's pricing.",
    "Lock in current pricing for another year.",
    "Freeze their rate for 24 months.",
    "Move them to net 90 payment terms.",
    "Defer the next payment until March.",
    "Let them cancel without penalty.",
    "Comp the premium add-on for the rest of the year.",
    "Provide the upgrade free of charge.",
    "Halve the subscription cost.",
    "Give a loyalty discount to the sponsor.",
    "Send a coupon code for the next renewal.",
    "Reduce the renewal quote by 15 per cent.",
    "Offer a money-back guarantee.",
    "They should pay less next year.",
    "Bill them nothing for the overage.",
    "Waive the overage charges.",
    "Renegotiate the contract terms in their favour.",
    "Drop the minimum commitment.",
    "Offer 3 months free if they renew.",
    "Put them on a complimentary plan.",
    "Charge them 25% less at renewal.",
    "Give €2,000 in credits.",
    "Provide a rebate on their annual fee.",
    "Extend their trial by 30 days.",
    "A special price for this account would keep them.",
    "Make the renewal 40 % cheaper.",
    "Drop the price to what they paid last year.",
    "The overage fees could be forgiven this time.",
    "Half off the first year if they sign this month.",
    "Offer them a bonus month to make up for the outage.",
    "Say they won't be charged for the extra seats.",
]

#: Three rounds of paraphrases written after the rules and run before any rule was added for
#: them (blocked at first: 7 of 15, 1 of 10, 6 of 12: 14 of 37); the rules were then widened to
#: read what each missed said, and they stay here as cases. The honest figure for wording never
#: seen is that first-run share: about three in five got through.
HELD_OUT = [
    # round 1
    "Suggest we take a quarter off the renewal price.",
    "Tell them the next two invoices are on the house.",
    "We could give them six weeks without billing.",
    "Propose matching what the competitor quoted them.",
    "Offer to absorb the implementation fee.",
    "Let them downgrade mid-term without paying the difference.",
    "Give a 30-day grace period on the overdue invoice.",
    "Offer a price reduction if they commit to two years.",
    "Reimburse the consulting hours they paid for.",
    "Promise them the renewal at last year's rate.",
    "Zero out the setup charges.",
    "Drop them to the starter tier price but keep premium features.",
    "Offer 2 for 1 on seats.",
    "Give them 10k in usage credits.",
    "Discuss a cheaper plan at renewal.",
    # round 2
    "Tell the customer we will not invoice them for December.",
    "Make their next renewal cost the same as their first year.",
    "Give them the enterprise tier for the price of pro.",
    "Trim 10 percent from the annual contract value.",
    "They could stay on the legacy pricing indefinitely.",
    "Roll back the price increase for this account.",
    "Offer to split the cost of the migration with them.",
    "Pause billing for two months while they fix their data.",
    "Suggest a 5% loyalty reduction at renewal.",
    "Hand them a free quarter of the analytics add-on.",
    # round 3
    "Let them keep the 2024 price through the next renewal.",
    "Don't bill the extra users until June.",
    "Offer the add-on at cost.",
    "We can absorb the price increase for them this year.",
    "Offer a six-month pause on their subscription fees.",
    "Suggest an installment plan for the overdue balance.",
    "Throw in the premium support package gratis.",
    "Quote them the nonprofit rate.",
    "Give them an extra 90 days to pay.",
    "Bundle the training at no charge with the renewal.",
    "Offer twelve months for the price of ten.",
    "Lower the seat minimum from 50 to 20.",
]

#: 41 things a customer-success proposal says every day (20 written with the rules, 21 in the
#: held-out rounds). None may be blocked.
ABOUT_HEALTH_AND_NEXT_STEPS = [
    "Usage fell 40 percent in 30 days.",
    "Usage is 40 percent lower than last month.",
    "The health score dropped by half since the last review.",
    "Book a call with the sponsor to review the failing exports.",
    "Score 30.0, down from 62.0; ARR 250,000.",
    "Offer a free training session on the reporting module.",
    "Support tickets doubled and NPS fell 20 points.",
    "Send the renewal checklist and confirm the renewal date.",
    "Invite them to the customer advisory board.",
    "Reduce the ticket backlog by escalating to engineering.",
    "Review their usage report with the finance contact.",
    "Cut onboarding time in half with a guided setup.",
    "Their renewal is in 40 days; schedule an executive business review.",
    "Plan a QBR to show the value they get from the product.",
    "Remove the blockers before the renewal call.",
    "Reduce the churn rate in the smb segment with a check-in.",
    "They need additional seats for the new team.",
    "You can count on us to fix the export this week.",
    "Credit their team for the smooth launch in the next update.",
    "Adoption of the API dropped 25% after the last release.",
    # held-out rounds
    "Ask the champion which reports the finance team uses most.",
    "Their logins halved after the reorganisation.",
    "Share the release notes about the fixed export bug.",
    "Escalate the outage postmortem to the chairman.",
    "Enrol them in the at-risk playbook.",
    "Invoices are paid on time; usage is the concern.",
    "Set up a weekly check-in until the score recovers above 40.",
    "The sponsor left; find the new decision maker.",
    "Propose a workshop to roll out the new dashboard to 50 users.",
    "Compare this quarter's adoption with the same quarter last year.",
    "The price page confused their admin; send the documentation.",
    "Their invoice contact changed; update the CRM.",
    "Usage of the free tier features is 30% lower.",
    "Confirm the contract owner before the renewal meeting.",
    "Explain the pricing model to the new sponsor on the call.",
    "Their costs went up after they hired; they asked about reports.",
    "Schedule the renewal conversation 60 days out.",
    "Send the invoice history export they asked for.",
    "Usage dropped 12 percent after the holiday.",
    "Share the pricing page link with the new admin.",
    "Their payment failed last week; ask finance to check the card.",
]


@pytest.mark.parametrize("text", CHANGES_WHAT_THEY_PAY + HELD_OUT)
def test_every_paraphrase_of_a_money_change_is_blocked(text: str) -> None:
    assert money_change(text) is not None, text
    problem = text_problem(text)
    assert problem is not None and problem.startswith("changes what the customer pays"), problem


@pytest.mark.parametrize("text", ABOUT_HEALTH_AND_NEXT_STEPS)
def test_health_figures_and_next_steps_pass(text: str) -> None:
    assert money_change(text) is None, (text, money_change(text))


def test_the_reason_quotes_what_was_read() -> None:
    assert money_change("Waive half the fee.") == "a price cut: 'half the fee'"
    assert money_change("Give them two months on us.") == "something free: 'months on us'"
