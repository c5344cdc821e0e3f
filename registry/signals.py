"""Named signals for cross-domain reactions (blinker, which Flask ships).

A domain that changes something others care about sends one of these; the domains that react
(notifications, compliance snapshots, conditions) subscribe. `PROMISED` lists the reactions the
product promises: a test fails if any of them has no subscriber, so a promise can never again
be a lookup that logs when nothing answers.

Every signal is sent with the pilot as sender, inside the sender's transaction: a receiver
writes in that same transaction (it must not commit), so the reaction and the change it
reacts to are committed together or not at all.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# The pilot record (sent by registry.catalog.lifecycle).
pilot_created = _signals.signal("pilot-created")
pilot_updated = _signals.signal("pilot-updated")  # changes={field: {before, after}}
material_change = _signals.signal("material-change")  # fields=[...] newly unreviewed
ownership_transferred = _signals.signal("ownership-transferred")  # previous=User, actor
pilot_submitted = _signals.signal("pilot-submitted")  # actor, revision, note
decision_recorded = _signals.signal("decision-recorded")  # actor, decision, revision, stage
resubmission_required = _signals.signal("resubmission-required")  # actor, reason
review_due = _signals.signal("review-due")  # reason
tier_changed = _signals.signal("tier-changed")  # before, after, source

# Facts about a pilot (sent by assessments).
bias_check_flipped = _signals.signal("bias-check-flipped")  # previous, current
compliance_inputs_changed = _signals.signal("compliance-inputs-changed")  # what
condition_reported = _signals.signal("condition-reported")  # condition, actor
condition_verified = _signals.signal("condition-verified")  # condition, actor, accepted
condition_met = _signals.signal("condition-met")  # condition (met by its checklist item)
condition_overdue = _signals.signal("condition-overdue")  # condition

# Policies (sent by policies.store).
policy_published = _signals.signal("policy-published")  # version

# The reactions the product promises, and what each is for.
PROMISED = {
    pilot_submitted: "the CAIOs are told a pilot waits for review",
    decision_recorded: "the owner and the team are told the decision",
    material_change: "the CAIOs are told an approved pilot changed in a material way",
    ownership_transferred: "the new owner is told they are accountable",
    resubmission_required: "the owner and the team are told to resubmit",
    review_due: "the owner and the CAIOs are told a review is due",
    bias_check_flipped: "the owner and the CAIOs are told a bias check now fails",
    condition_reported: "the CAIOs are told a condition is reported met",
    condition_verified: "the team is told whether its report was accepted",
    condition_met: "the team is told a condition was met by its checklist item",
    condition_overdue: "the pilot is marked review due; the owner and the CAIOs are told",
    compliance_inputs_changed: "the pilot's compliance snapshot is evaluated again",
    pilot_updated: "the pilot's compliance snapshot is evaluated again",
    tier_changed: "the pilot's compliance snapshot is evaluated again",
    policy_published: "every pilot's compliance snapshot is evaluated again",
}
