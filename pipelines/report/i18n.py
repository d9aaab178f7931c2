"""The scorecard's words in French and English. Metric and stage names come from the config;
everything else a reader sees is here, so a page never mixes languages."""

from __future__ import annotations

from pipelines.config import LANGUAGES

TEXT = {
    "en": {
        "title": "Service-excellence scorecard",
        "index_title": "Service-excellence scorecards",
        "week": "Week",
        "all_weeks": "All weeks",
        "other_language": "Version française",
        "intro": "ISO week cut in {tz}. Figures over fewer than {n} observations are marked as a small sample. "
                 "A change is marked significant only when its 95 % confidence interval excludes zero.",
        "headline": "Headline",
        "target": "target",
        "status_on_target": "on target",
        "status_watch": "watch",
        "status_off_target": "off target",
        "status_no_data": "no data",
        "status_provisional": "provisional",
        "provisional": "provisional",
        "provisional_until": "provisional until {date}: later contacts may still change it",
        "missing_feeds": "not measured: no {feeds} feed configured",
        "feed_calls": "calls", "feed_complaints": "complaints", "feed_surveys": "surveys",
        "no_data": "no data",
        "vs_previous": "vs previous week",
        "vs_average": "vs 4-week average",
        "no_previous": "no previous week",
        "significant": "significant",
        "not_significant": "within noise",
        "small_sample": "small sample",
        "promoters": "promoters", "passives": "passives", "detractors": "detractors",
        "stages": "Journey stages",
        "stage": "Stage",
        "journeys_reached": "Journeys reached",
        "with_friction": "With friction",
        "friction_index": "Friction index (weighted signals per 100 journeys)",
        "top_signals": "Top signals",
        "friction_trend": "Friction index by stage, last {n} weeks",
        "handoffs": "Handoffs between teams",
        "heatmap_title": "Failure rate of handoffs, from team (rows) to team (columns)",
        "from_team": "From team", "to_team": "To team",
        "no_handoffs": "No handoff this week",
        "top_pairs": "Failing handoffs: top pairs",
        "handoffs_n": "Handoffs", "failed_n": "Failed", "failure_rate": "Failure rate", "reasons": "Reasons",
        "investigate": "investigate",
        "supplier_view": "Internal-supplier view: how each team serves the teams that hand it work",
        "team": "Team", "received": "Handoffs received", "teams_served": "Teams served",
        "teams": "Teams",
        "segments_offered": "Call segments offered", "answered": "Answered", "abandonment": "Abandoned",
        "asa": "Avg speed of answer (s)", "aht": "Avg handle time (s)", "transferred_out": "Transferred out",
        "verbatims": "What customers said",
        "verbatims_intro": "Chosen from journeys that met each stage's top friction signal; scrubbed of personal data.",
        "no_verbatim": "No verbatim this week for this stage.",
        "quality": "Data quality",
        "source": "Source", "files": "Files with rows this week", "rows_loaded": "Rows loaded",
        "rows_quarantined": "Rows quarantined", "rows_duplicate": "Duplicate rows", "files_rejected": "Files rejected",
        "late_files": "Late files (after publication)",
        "week_state": "Week",
        "complete": "complete", "incomplete": "incomplete: data may still arrive", "restated": "restated",
        "restated_detail": "restated on {at}: {n} figure(s) changed after first publication",
        "missing_source": "no rows from this source this week",
        "investigation_title": "Failed handoffs {from_team} → {to_team}",
        "unassigned_team": "no team (unassigned)",
        "unassigned_apart": "{n} handoffs to or from no team (unassigned), {failed} of them failed: counted in the "
                            "failure rate, left out of the heatmap and the pairs below.",
        "back": "Back to the scorecard",
        "handoff": "Handoff", "kind": "Kind", "at": "At", "timeline": "Journey timeline",
        "contact": "Contact", "detail": "Detail",
        "none_failed": "No failed handoff for this pair this week.",
        "first_failed": "The first {shown} of {failed} failed handoffs of the week, by time. Every one, with its journey:",
        "exports": "Exports for BI tools",
    },
    "fr": {
        "title": "Tableau de bord Esprit de Service",
        "index_title": "Tableaux de bord Esprit de Service",
        "week": "Semaine",
        "all_weeks": "Toutes les semaines",
        "other_language": "English version",
        "intro": "Semaine ISO découpée dans le fuseau {tz}. Les chiffres portant sur moins de {n} observations sont "
                 "signalés comme petit échantillon. Une évolution n'est dite significative que si son intervalle "
                 "de confiance à 95 % exclut zéro.",
        "headline": "Indicateurs clés",
        "target": "cible",
        "status_on_target": "dans la cible",
        "status_watch": "à surveiller",
        "status_off_target": "hors cible",
        "status_no_data": "pas de données",
        "status_provisional": "provisoire",
        "provisional": "provisoire",
        "provisional_until": "provisoire jusqu'au {date} : des contacts ultérieurs peuvent encore la modifier",
        "missing_feeds": "non mesuré : aucun flux {feeds} configuré",
        "feed_calls": "d'appels", "feed_complaints": "de réclamations", "feed_surveys": "d'enquêtes",
        "no_data": "pas de données",
        "vs_previous": "vs semaine précédente",
        "vs_average": "vs moyenne 4 semaines",
        "no_previous": "pas de semaine précédente",
        "significant": "significatif",
        "not_significant": "dans le bruit",
        "small_sample": "petit échantillon",
        "promoters": "promoteurs", "passives": "passifs", "detractors": "détracteurs",
        "stages": "Étapes du parcours",
        "stage": "Étape",
        "journeys_reached": "Parcours concernés",
        "with_friction": "Avec friction",
        "friction_index": "Indice de friction (signaux pondérés pour 100 parcours)",
        "top_signals": "Principaux signaux",
        "friction_trend": "Indice de friction par étape, {n} dernières semaines",
        "handoffs": "Passages de relais entre équipes",
        "heatmap_title": "Taux d'échec des passages de relais, de l'équipe (lignes) vers l'équipe (colonnes)",
        "from_team": "Équipe qui passe", "to_team": "Équipe qui reçoit",
        "no_handoffs": "Aucun passage de relais cette semaine",
        "top_pairs": "Passages de relais en échec : principales paires",
        "handoffs_n": "Passages", "failed_n": "En échec", "failure_rate": "Taux d'échec", "reasons": "Motifs",
        "investigate": "analyser",
        "supplier_view": "Vue fournisseur interne : comment chaque équipe sert les équipes qui lui passent le travail",
        "team": "Équipe", "received": "Passages reçus", "teams_served": "Équipes servies",
        "teams": "Équipes",
        "segments_offered": "Segments d'appel présentés", "answered": "Décrochés", "abandonment": "Abandonnés",
        "asa": "Délai moyen de décroché (s)", "aht": "Durée moyenne de traitement (s)",
        "transferred_out": "Transférés",
        "verbatims": "Paroles de clients",
        "verbatims_intro": "Choisies parmi les parcours touchés par le principal signal de friction de chaque étape ; "
                           "expurgées des données personnelles.",
        "no_verbatim": "Pas de verbatim cette semaine pour cette étape.",
        "quality": "Qualité des données",
        "source": "Source", "files": "Fichiers avec des lignes cette semaine", "rows_loaded": "Lignes chargées",
        "rows_quarantined": "Lignes en quarantaine", "rows_duplicate": "Lignes en double",
        "files_rejected": "Fichiers rejetés", "late_files": "Fichiers tardifs (après publication)",
        "week_state": "Semaine",
        "complete": "complète", "incomplete": "incomplète : des données peuvent encore arriver", "restated": "retraitée",
        "restated_detail": "retraitée le {at} : {n} chiffre(s) modifié(s) après la première publication",
        "missing_source": "aucune ligne de cette source cette semaine",
        "investigation_title": "Passages de relais en échec {from_team} → {to_team}",
        "unassigned_team": "aucune équipe (non affecté)",
        "unassigned_apart": "{n} passages de relais vers ou depuis aucune équipe (non affecté), dont {failed} en "
                            "échec : comptés dans le taux d'échec, hors de la carte et des paires ci-dessous.",
        "back": "Retour au tableau de bord",
        "handoff": "Passage", "kind": "Type", "at": "Date", "timeline": "Chronologie du parcours",
        "contact": "Contact", "detail": "Détail",
        "none_failed": "Aucun passage en échec pour cette paire cette semaine.",
        "first_failed": "Les {shown} premiers des {failed} passages en échec de la semaine, par date. Tous, avec leur parcours :",
        "exports": "Exports pour les outils décisionnels",
    },
}

assert set(TEXT) == set(LANGUAGES), "pipelines/config.py LANGUAGES and the catalogues differ"

# Friction signals and handoff failure reasons, by their names in sql/vocabulary.yaml (each must
# have its words in every language: tests/test_vocabulary.py), then handoff kinds and contacts.
TERMS = {
    "en": {
        "abandoned": "abandoned", "long_wait": "long wait", "several_attempts": "several attempts",
        "transferred": "transferred", "long_hold": "long hold", "repeat_info": "had to repeat",
        "repeat_contact": "repeat contact", "case_reopened": "case reopened",
        "resolution_beyond_sla": "resolved beyond SLA", "not_resolved": "says not resolved",
        "complaint_opened": "escalated into a complaint",
        "complaint_acknowledged_beyond_sla": "complaint acknowledged late",
        "complaint_resolved_beyond_sla": "complaint resolved beyond SLA",
        "bounce_back": "bounce-back", "ping_pong": "ping-pong", "dropped": "dropped", "recontact": "recontact",
        "slow_pickup": "slow pickup", "reopened": "reopened",
        "transfer": "call transfer", "reassignment": "case reassignment", "escalation": "escalation",
        "call": "call", "case_event": "case", "survey": "survey",
    },
    "fr": {
        "abandoned": "abandon", "long_wait": "attente longue", "several_attempts": "plusieurs tentatives",
        "transferred": "transféré", "long_hold": "mise en attente longue", "repeat_info": "a dû se répéter",
        "repeat_contact": "recontact", "case_reopened": "dossier rouvert",
        "resolution_beyond_sla": "résolu hors délai", "not_resolved": "se dit non résolu",
        "complaint_opened": "escalade en réclamation",
        "complaint_acknowledged_beyond_sla": "réclamation accusée en retard",
        "complaint_resolved_beyond_sla": "réclamation traitée hors délai",
        "bounce_back": "retour à l'envoyeur", "ping_pong": "ping-pong", "dropped": "perdu au transfert",
        "recontact": "recontact", "slow_pickup": "prise en charge lente", "reopened": "rouvert",
        "transfer": "transfert d'appel", "reassignment": "réaffectation de dossier", "escalation": "escalade",
        "call": "appel", "case_event": "dossier", "survey": "enquête",
    },
}


def translator(lang: str):
    """t(key, **fields) for the page's words; term(name) for signals and reasons (unknown: as is)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language '{lang}': expected one of {list(LANGUAGES)}")
    text, terms = TEXT[lang], TERMS[lang]

    def t(key: str, **fields) -> str:
        return text[key].format(**fields) if fields else text[key]

    def term(name: str) -> str:
        return terms.get(name, name)

    return t, term
