"""The scorecard's words in French and English. Metric and stage names come from the config;
everything else a reader sees is here, so a page never mixes languages.

Numbers, percentages, changes and dates are formatted by Babel in the language's locale
(`LOCALES`): 45.5% and 3.90 in English, 45,5 % and 3,90 in French. French text follows French
typography: a catalogue's plain space before : ; ? ! % becomes a non-breaking one, so a line
never starts with the punctuation.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from pipelines.config import LANGUAGES

LOCALES = {"en": "en_GB", "fr": "fr_FR"}

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
        "feed_calls": "calls",
        "feed_complaints": "complaints",
        "feed_surveys": "surveys",
        "no_data": "no data",
        "vs_previous": "vs previous week",
        "vs_average": "vs 4-week average",
        "no_previous": "no previous week",
        "significant": "significant",
        "not_significant": "within noise",
        "small_sample": "small sample",
        "promoters": "promoters",
        "passives": "passives",
        "detractors": "detractors",
        "stages": "Journey stages",
        "stage": "Stage",
        "journeys_reached": "Journeys reached",
        "with_friction": "With friction",
        "friction_index": "Friction index (weighted signals per 100 journeys)",
        "top_signals": "Top signals",
        "friction_trend": "Friction index by stage, last {n} weeks",
        "handoffs": "Handoffs between teams",
        "heatmap_title": "Failure rate of handoffs, from team (rows) to team (columns)",
        "from_team": "From team",
        "to_team": "To team",
        "no_handoffs": "No handoff this week",
        "top_pairs": "Failing handoffs: top pairs",
        "handoffs_n": "Handoffs",
        "failed_n": "Failed",
        "failure_rate": "Failure rate",
        "reasons": "Reasons",
        "investigate": "investigate",
        "supplier_view": "Internal-supplier view: how each team serves the teams that hand it work",
        "team": "Team",
        "received": "Handoffs received",
        "teams_served": "Teams served",
        "teams": "Teams",
        "segments_offered": "Call segments offered",
        "answered": "Answered",
        "abandonment": "Abandoned",
        "asa": "Avg speed of answer (s)",
        "aht": "Avg handle time (s)",
        "transferred_out": "Transferred out",
        "pyramid": "Service-excellence pyramid (CEN/TS 16880)",
        "pyramid_intro": "Each level of the norm's pyramid, core promise at the base, read from the figures that trace "
        "it. A level's status is the worst final status of its figures; provisional figures and figures without "
        "data are not counted. Esprit reads traces in the data, not the norm's full assessment.",
        "level_better": "better than the week before (was {before})",
        "level_worse": "worse than the week before (was {before})",
        "level_same": "as the week before",
        "pyramid_provisional_left_out": "{n} provisional figure(s) not counted yet",
        "pyramid_no_figure": "No figure of this level is configured for this site.",
        "pyramid_weeks": "last {n} weeks: {on} on target, {watch} to watch, {off} off target",
        "unrecorded_followups_without_agent": "{n} follow-up(s) with no agent recorded, not counted",
        "attention": "Symmetry of attention",
        "attention_intro": "How the other teams served each team (its staff's internal pulse, 1-5), its staff's "
        "engagement, how the other teams rate its service, its failed handoffs as receiving and as giving team, and "
        "what the customers of the journeys it touched this week experienced. The pulse is anonymous: no figure rests "
        "on fewer than {n} respondents.",
        "attention_served": "Served by the other teams (pulse)",
        "attention_engagement": "Engagement of its staff",
        "attention_serving": "Its service, as the others rate it",
        "attention_failed_received": "Failed handoffs received",
        "attention_failed_given": "Failed handoffs given",
        "attention_journeys": "Customer journeys touched",
        "attention_nps": "NPS of those customers",
        "too_few_answers": "too few answers to show",
        "attention_link": "Internal service and customer outcome, across teams and weeks",
        "link_nps": "NPS of a team's customers against how the other teams served it: correlation {r} "
        "(95% interval {low} to {high}) over {n} team-weeks.",
        "link_friction_share": "Share of a team's journeys with friction against how the other teams served it: "
        "correlation {r} (95% interval {low} to {high}) over {n} team-weeks.",
        "link_nps_none": "NPS against internal service: no data ({n} team-weeks with both figures; 4 needed).",
        "link_friction_share_none": "Friction against internal service: no data ({n} team-weeks with both figures; "
        "4 needed).",
        "link_provisional": "provisional: fewer than {n} team-weeks",
        "link_excludes_zero": "the interval excludes zero: the figures move together",
        "link_covers_zero": "the interval includes zero: no relationship can be told from noise",
        "attention_link_note": "Pearson's correlation over the team-weeks of the last {weeks} weeks with both figures, "
        "its interval by Fisher's z. It says the figures move together, not which drives which.",
        "drivers": "Aspects rated by satisfied and dissatisfied respondents",
        "drivers_intro": "Mean rating of each aspect of the survey, among respondents satisfied (CSAT 4-5, or without a "
        "CSAT an NPS of 7-10) and dissatisfied (CSAT 1-3, or an NPS detractor), with how many answered; the widest "
        "gaps first: the aspects that go with dissatisfaction.",
        "aspect": "Aspect",
        "scale": "Scale",
        "mean_all": "Mean (n)",
        "mean_satisfied": "Satisfied: mean (n)",
        "mean_dissatisfied": "Dissatisfied: mean (n)",
        "gap": "Gap",
        "not_applicable": "Not applicable",
        "verbatims": "What customers said",
        "verbatims_intro": "Chosen from journeys that met each stage's top friction signal, each text once, with the "
        "themes it names; scrubbed of personal data.",
        "no_verbatim": "No verbatim this week for this stage.",
        "listening": "Themes in what customers said",
        "listening_intro": "Each verbatim read for the themes of service it names, going well or going wrong, "
        "grouped by the journey stage the theme speaks of; {n} verbatims this week. Examples "
        "come first from journeys that met the stage's top friction signal, each text once.",
        "theme": "Theme",
        "going_well": "going well",
        "going_wrong": "going wrong",
        "verbatims_naming": "Verbatims",
        "share_of_verbatims": "Share of the week's verbatims",
        "change_vs_previous": "Change vs {week}",
        "by_team": "By team",
        "no_team": "no team",
        "examples": "Examples",
        "no_theme_this_week": "No theme named this week for this stage.",
        "other_stage": "Other themes",
        "quality": "Data quality",
        "source": "Source",
        "files": "Files with rows this week",
        "rows_loaded": "Rows loaded",
        "rows_quarantined": "Rows quarantined",
        "rows_duplicate": "Duplicate rows",
        "files_rejected": "Files rejected",
        "late_files": "Late files (after publication)",
        "week_state": "Week",
        "complete": "complete",
        "incomplete": "incomplete: data may still arrive",
        "restated": "restated",
        "restated_detail": "restated on {at}: {n} figure(s) changed after first publication",
        "missing_source": "no rows from this source this week",
        "investigation_title": "Failed handoffs {from_team} → {to_team}",
        "unassigned_team": "no team (unassigned)",
        "unassigned_apart": "{n} handoffs to or from no team (unassigned), {failed} of them failed: counted in the "
        "failure rate, left out of the heatmap and the pairs below.",
        "back": "Back to the scorecard",
        "handoff": "Handoff",
        "kind": "Kind",
        "at": "At",
        "timeline": "Journey timeline",
        "contact": "Contact",
        "detail": "Detail",
        "none_failed": "No failed handoff for this pair this week.",
        "first_failed": "The first {shown} of {failed} failed handoffs of the week, by time. Every one, with its journey:",
        "pairs_left_out": "{n} other pairs with failed handoffs this week have no investigation page (only the pairs "
        "with the most failures have one). Every pair is in the exports (weekly_handoff_pairs) and listed by",
        "overview": "What went wrong, where",
        "by_reason": "Failed handoffs by reason",
        "definition": "Definition",
        "pickup_distribution": "Pickup time, every handoff of the pair",
        "pickup_time": "Pickup time",
        "pickup_none": "not picked up, or not known yet",
        "by_queue": "By receiving queue",
        "queue": "Queue",
        "no_queue": "no queue (case or escalation)",
        "by_agent": "By receiving agent (pseudonymised)",
        "agent": "Agent",
        "no_agent": "none recorded",
        "agents_shown": "The {shown} agents with the most failed handoffs, of {n}.",
        "worst_journeys": "Worst journeys first",
        "journey": "Journey",
        "longest_pickup": "Longest pickup",
        "timelines_by_reason": "Journeys by first reason (open a reason to see them)",
        "failing_step": "the step where the handoff failed",
        "exports": "Exports for BI tools",
        "this_week": "This week",
        "act_on": "To act on",
        "act_nothing": "Nothing is off target and significantly worse, no stage's friction rose significantly, "
        "and every source sent data.",
        "act_source": "{source}: no rows this week; the figures that need this source are short of it.",
        "act_tile": "{label}: {value}, {change} vs previous week (significant), off target (target {target}).",
        "act_stage": "{stage}: {share} of journeys with friction, {change} vs previous week (significant).",
        "act_pair": "{from_team} → {to_team}: {failed} failed handoffs of {handoffs}{change}.",
        "pair_change": ", {change} vs previous week",
        "pair_new": ", none the previous week",
        "improved": "Improved significantly",
        "improved_none": "Nothing improved significantly.",
        "improved_tile": "{label}: {value}, {change} vs previous week (significant).",
        "look": "where to look",
        "act_rule": "Ranked: missing sources, figures off target and significantly worse, the largest significant "
        "rise of friction, the pair with the most failed handoffs. Provisional figures are left out.",
        "legend": "Colours",
        "legend_on_target": "on target",
        "legend_watch": "watch: between the target and the watch threshold",
        "legend_off_target": "off target: beyond the watch threshold",
        "legend_provisional": "provisional: no status yet",
        "legend_change": "a change is green or red only when significant; grey is within noise",
        "heatmap_legend": "Colour: failure rate. Dot: number of failed handoffs (the largest dot is the pair with "
        "the most). Click a cell to open the pair's investigation.",
        "quarter_view": "The quarter and the year",
        "quarter_title": "{label}, 52 weeks to {week}",
        "spark_title": "{label}, last {n} weeks",
        "quarter_intro": "Each headline figure over 52 weeks, the last 13 (the quarter) in dark, the target dashed.",
        "quarter_on_target": "on target {on} of {n} weeks with data in the quarter, {on_year} of {n_year} in the year",
        "colon": ":",
        "ci": "95 % CI {low} – {high}",
        "sample": "n = {n}",
        "published": "published {at}",
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
        "feed_calls": "d'appels",
        "feed_complaints": "de réclamations",
        "feed_surveys": "d'enquêtes",
        "no_data": "pas de données",
        "vs_previous": "par rapport à la semaine précédente",
        "vs_average": "par rapport à la moyenne des 4 semaines",
        "no_previous": "pas de semaine précédente",
        "significant": "significatif",
        "not_significant": "dans le bruit",
        "small_sample": "petit échantillon",
        "promoters": "promoteurs",
        "passives": "passifs",
        "detractors": "détracteurs",
        "stages": "Étapes du parcours",
        "stage": "Étape",
        "journeys_reached": "Parcours concernés",
        "with_friction": "Avec friction",
        "friction_index": "Indice de friction (signaux pondérés pour 100 parcours)",
        "top_signals": "Principaux signaux",
        "friction_trend": "Indice de friction par étape, {n} dernières semaines",
        "handoffs": "Passages de relais entre équipes",
        "heatmap_title": "Taux d'échec des passages de relais, de l'équipe (lignes) vers l'équipe (colonnes)",
        "from_team": "Équipe qui passe",
        "to_team": "Équipe qui reçoit",
        "no_handoffs": "Aucun passage de relais cette semaine",
        "top_pairs": "Passages de relais en échec : principales paires",
        "handoffs_n": "Passages",
        "failed_n": "En échec",
        "failure_rate": "Taux d'échec",
        "reasons": "Motifs",
        "investigate": "analyser",
        "supplier_view": "Vue fournisseur interne : comment chaque équipe sert les équipes qui lui passent le travail",
        "team": "Équipe",
        "received": "Passages reçus",
        "teams_served": "Équipes servies",
        "teams": "Équipes",
        "segments_offered": "Segments d'appel présentés",
        "answered": "Décrochés",
        "abandonment": "Abandonnés",
        "asa": "Délai moyen de décroché (s)",
        "aht": "Durée moyenne de traitement (s)",
        "pyramid": "Pyramide de l'excellence de service (CEN/TS 16880)",
        "pyramid_intro": "Chaque niveau de la pyramide de la norme, la promesse de base en bas, lu dans les chiffres qui "
        "en gardent la trace. Le statut d'un niveau est le pire statut définitif de ses chiffres ; les chiffres "
        "provisoires et ceux sans données ne comptent pas. Esprit lit des traces dans les données, pas l'évaluation "
        "complète de la norme.",
        "level_better": "mieux que la semaine précédente (était {before})",
        "level_worse": "moins bien que la semaine précédente (était {before})",
        "level_same": "comme la semaine précédente",
        "pyramid_provisional_left_out": "{n} chiffre(s) provisoire(s) pas encore compté(s)",
        "pyramid_no_figure": "Aucun chiffre de ce niveau n'est configuré pour ce site.",
        "pyramid_weeks": "{n} dernières semaines : {on} dans la cible, {watch} à surveiller, {off} hors cible",
        "unrecorded_followups_without_agent": "{n} retour(s) de client sans conseiller enregistré, non compté(s)",
        "attention": "Symétrie des attentions",
        "attention_intro": "Comment les autres équipes ont servi chaque équipe (baromètre interne de ses "
        "collaborateurs, 1-5), l'engagement de ses collaborateurs, comment les autres équipes jugent son service, ses "
        "passages de relais en échec comme équipe destinataire et comme équipe émettrice, et ce qu'ont vécu les "
        "clients des parcours qu'elle a touchés cette semaine. Le baromètre est anonyme : aucun chiffre ne repose sur "
        "moins de {n} répondants.",
        "attention_served": "Servie par les autres équipes (baromètre)",
        "attention_engagement": "Engagement de ses collaborateurs",
        "attention_serving": "Son service, selon les autres",
        "attention_failed_received": "Relais reçus en échec",
        "attention_failed_given": "Relais passés en échec",
        "attention_journeys": "Parcours clients touchés",
        "attention_nps": "NPS de ces clients",
        "too_few_answers": "trop peu de réponses pour être montré",
        "attention_link": "Service interne et expérience client, entre équipes et semaines",
        "link_nps": "NPS des clients d'une équipe selon la façon dont les autres équipes l'ont servie : corrélation {r} "
        "(intervalle à 95 % de {low} à {high}) sur {n} équipes-semaines.",
        "link_friction_share": "Part des parcours d'une équipe avec friction selon la façon dont les autres équipes "
        "l'ont servie : corrélation {r} (intervalle à 95 % de {low} à {high}) sur {n} équipes-semaines.",
        "link_nps_none": "NPS et service interne : pas de données ({n} équipes-semaines avec les deux chiffres ; "
        "4 nécessaires).",
        "link_friction_share_none": "Friction et service interne : pas de données ({n} équipes-semaines avec les "
        "deux chiffres ; 4 nécessaires).",
        "link_provisional": "provisoire : moins de {n} équipes-semaines",
        "link_excludes_zero": "l'intervalle exclut zéro : les chiffres varient ensemble",
        "link_covers_zero": "l'intervalle contient zéro : aucune relation ne se distingue du bruit",
        "attention_link_note": "Corrélation de Pearson sur les équipes-semaines des {weeks} dernières semaines qui ont "
        "les deux chiffres, son intervalle par le z de Fisher. Elle dit que les chiffres varient ensemble, pas lequel "
        "entraîne l'autre.",
        "drivers": "Aspects notés par les répondants satisfaits et insatisfaits",
        "drivers_intro": "Note moyenne de chaque aspect de l'enquête, chez les répondants satisfaits (CSAT 4-5, ou sans "
        "CSAT un NPS de 7 à 10) et insatisfaits (CSAT 1-3, ou un NPS détracteur), avec le nombre de réponses ; les plus "
        "grands écarts d'abord : les aspects qui vont avec l'insatisfaction.",
        "aspect": "Aspect",
        "scale": "Échelle",
        "mean_all": "Moyenne (n)",
        "mean_satisfied": "Satisfaits : moyenne (n)",
        "mean_dissatisfied": "Insatisfaits : moyenne (n)",
        "gap": "Écart",
        "not_applicable": "Sans objet",
        "transferred_out": "Transférés",
        "verbatims": "Paroles de clients",
        "verbatims_intro": "Choisies parmi les parcours touchés par le principal signal de friction de chaque étape, "
        "chaque texte une seule fois, avec les thèmes qu'il évoque ; expurgées des données personnelles.",
        "no_verbatim": "Pas de verbatim cette semaine pour cette étape.",
        "listening": "Les thèmes dans les paroles de clients",
        "listening_intro": "Chaque verbatim lu pour les thèmes de service qu'il évoque, en bien ou en mal, "
        "regroupés par l'étape du parcours dont parle le thème ; {n} verbatims cette semaine. "
        "Les exemples viennent d'abord des parcours touchés par le principal signal de friction de l'étape, "
        "chaque texte une seule fois.",
        "theme": "Thème",
        "going_well": "en bien",
        "going_wrong": "en mal",
        "verbatims_naming": "Verbatims",
        "share_of_verbatims": "Part des verbatims de la semaine",
        "change_vs_previous": "Évolution par rapport à {week}",
        "by_team": "Par équipe",
        "no_team": "sans équipe",
        "examples": "Exemples",
        "no_theme_this_week": "Aucun thème évoqué cette semaine pour cette étape.",
        "other_stage": "Autres thèmes",
        "quality": "Qualité des données",
        "source": "Source",
        "files": "Fichiers avec des lignes cette semaine",
        "rows_loaded": "Lignes chargées",
        "rows_quarantined": "Lignes en quarantaine",
        "rows_duplicate": "Lignes en double",
        "files_rejected": "Fichiers rejetés",
        "late_files": "Fichiers tardifs (après publication)",
        "week_state": "Semaine",
        "complete": "complète",
        "incomplete": "incomplète : des données peuvent encore arriver",
        "restated": "retraitée",
        "restated_detail": "retraitée le {at} : {n} chiffre(s) modifié(s) après la première publication",
        "missing_source": "aucune ligne de cette source cette semaine",
        "investigation_title": "Passages de relais en échec {from_team} → {to_team}",
        "unassigned_team": "aucune équipe (non affecté)",
        "unassigned_apart": "{n} passages de relais vers ou depuis aucune équipe (non affecté), dont {failed} en "
        "échec : comptés dans le taux d'échec, hors de la carte et des paires ci-dessous.",
        "back": "Retour au tableau de bord",
        "handoff": "Passage",
        "kind": "Type",
        "at": "Date",
        "timeline": "Chronologie du parcours",
        "contact": "Contact",
        "detail": "Détail",
        "none_failed": "Aucun passage en échec pour cette paire cette semaine.",
        "first_failed": "Les {shown} premiers des {failed} passages en échec de la semaine, par date. Tous, avec leur parcours :",
        "pairs_left_out": "{n} autres paires avec des passages en échec cette semaine n'ont pas de page d'analyse "
        "(seules les paires aux échecs les plus nombreux en ont une). Toutes les paires sont dans les exports "
        "(weekly_handoff_pairs) et listées par",
        "overview": "Ce qui n'a pas marché, et où",
        "by_reason": "Passages en échec par motif",
        "definition": "Définition",
        "pickup_distribution": "Délai de prise en charge, tous les passages de la paire",
        "pickup_time": "Délai de prise en charge",
        "pickup_none": "pas pris en charge, ou pas encore connu",
        "by_queue": "Par file d'attente réceptrice",
        "queue": "File d'attente",
        "no_queue": "sans file (dossier ou escalade)",
        "by_agent": "Par conseiller récepteur (pseudonymisé)",
        "agent": "Conseiller",
        "no_agent": "non renseigné",
        "agents_shown": "Les {shown} conseillers aux passages en échec les plus nombreux, sur {n}.",
        "worst_journeys": "Les parcours les plus touchés d'abord",
        "journey": "Parcours",
        "longest_pickup": "Prise en charge la plus longue",
        "timelines_by_reason": "Parcours par premier motif (ouvrir un motif pour les voir)",
        "failing_step": "l'étape où le passage a échoué",
        "exports": "Exports pour les outils décisionnels",
        "this_week": "Cette semaine",
        "act_on": "À traiter",
        "act_nothing": "Aucun indicateur hors cible et significativement dégradé, aucune hausse significative de "
        "friction, et chaque source a livré des données.",
        "act_source": "{source} : aucune ligne cette semaine ; les indicateurs qui en dépendent sont incomplets.",
        "act_tile": "{label} : {value}, {change} par rapport à la semaine précédente (significatif), hors cible "
        "(cible {target}).",
        "act_stage": "{stage} : {share} des parcours avec friction, {change} par rapport à la semaine précédente "
        "(significatif).",
        "act_pair": "{from_team} → {to_team} : {failed} passages de relais en échec sur {handoffs}{change}.",
        "pair_change": ", {change} par rapport à la semaine précédente",
        "pair_new": ", aucun la semaine précédente",
        "improved": "Amélioré de façon significative",
        "improved_none": "Aucune amélioration significative.",
        "improved_tile": "{label} : {value}, {change} par rapport à la semaine précédente (significatif).",
        "look": "où regarder",
        "act_rule": "Classement : sources manquantes, indicateurs hors cible et significativement dégradés, plus "
        "forte hausse significative de friction, paire avec le plus d'échecs de relais. Les chiffres provisoires "
        "sont exclus.",
        "legend": "Couleurs",
        "legend_on_target": "dans la cible",
        "legend_watch": "à surveiller : entre la cible et le seuil de vigilance",
        "legend_off_target": "hors cible : au-delà du seuil de vigilance",
        "legend_provisional": "provisoire : pas encore de statut",
        "legend_change": "une évolution n'est en vert ou en rouge que si elle est significative ; en gris, dans le "
        "bruit",
        "heatmap_legend": "Couleur : taux d'échec. Point : nombre de relais en échec (le plus gros point est la "
        "paire qui en compte le plus). Cliquez sur une case pour ouvrir l'enquête de la paire.",
        "quarter_view": "Le trimestre et l'année",
        "quarter_title": "{label}, 52 semaines jusqu'à {week}",
        "spark_title": "{label}, les {n} dernières semaines",
        "quarter_intro": "Chaque indicateur principal sur 52 semaines, les 13 dernières (le trimestre) en foncé, la "
        "cible en pointillés.",
        "quarter_on_target": "dans la cible {on} semaines sur {n} avec données au trimestre, {on_year} sur {n_year} "
        "sur l'année",
        "colon": " :",
        "ci": "IC à 95 % {low} – {high}",
        "sample": "n = {n}",
        "published": "publiée le {at}",
    },
}

assert set(TEXT) == set(LANGUAGES), "pipelines/config.py LANGUAGES and the catalogues differ"

# Friction signals and handoff failure reasons, by their names in sql/vocabulary.yaml (each must
# have its words in every language: tests/test_vocabulary.py), then handoff kinds and contacts.
TERMS = {
    "en": {
        "abandoned": "abandoned",
        "long_wait": "long wait",
        "several_attempts": "several attempts",
        "transferred": "transferred",
        "long_hold": "long hold",
        "repeat_info": "had to repeat",
        "repeat_contact": "repeat contact",
        "case_reopened": "case reopened",
        "resolution_beyond_sla": "resolved beyond SLA",
        "not_resolved": "says not resolved",
        "complaint_opened": "escalated into a complaint",
        "complaint_acknowledged_beyond_sla": "complaint acknowledged late",
        "complaint_resolved_beyond_sla": "complaint resolved beyond SLA",
        "bounce_back": "bounce-back",
        "ping_pong": "ping-pong",
        "dropped": "dropped",
        "recontact": "recontact",
        "slow_pickup": "slow pickup",
        "reopened": "reopened",
        "transfer": "call transfer",
        "reassignment": "case reassignment",
        "escalation": "escalation",
        "call": "call",
        "case_event": "case",
        "survey": "survey",
        "calls": "calls",
        "complaints": "complaints",
        "surveys": "surveys",
        "(not configured)": "(not configured)",
    },
    "fr": {
        "abandoned": "abandon",
        "long_wait": "attente longue",
        "several_attempts": "plusieurs tentatives",
        "transferred": "transféré",
        "long_hold": "mise en attente longue",
        "repeat_info": "a dû se répéter",
        "repeat_contact": "nouveau contact",
        "case_reopened": "dossier rouvert",
        "resolution_beyond_sla": "résolu hors délai",
        "not_resolved": "se dit non résolu",
        "complaint_opened": "escalade en réclamation",
        "complaint_acknowledged_beyond_sla": "réclamation accusée en retard",
        "complaint_resolved_beyond_sla": "réclamation traitée hors délai",
        "bounce_back": "retour à l'envoyeur",
        "ping_pong": "ping-pong",
        "dropped": "perdu au transfert",
        "recontact": "rappel",
        "slow_pickup": "prise en charge lente",
        "reopened": "rouvert",
        "transfer": "transfert d'appel",
        "reassignment": "réaffectation de dossier",
        "escalation": "escalade",
        "call": "appel",
        "case_event": "dossier",
        "survey": "enquête",
        "calls": "appels",
        "complaints": "réclamations",
        "surveys": "enquêtes",
        "(not configured)": "(non configurée)",
    },
}


# The words of a journey's timeline (investigation pages): call outcomes and transfers, case
# events and statuses (their allowed values in pipelines/contracts.py), and the facts' labels.
TIMELINE = {
    "en": {
        "queue": "queue {value}",
        "waited": "waited {value}",
        "hold": "hold {value}",
        "transfer": "{value} transfer",
        "survey_resolved": "resolved: {value}",
        "resolved": "resolved",
        "had_to_repeat": "had to repeat",
        "answered": "answered",
        "abandoned": "abandoned",
        "warm": "warm",
        "cold": "cold",
        "opened": "opened",
        "assigned": "assigned",
        "reassigned": "reassigned",
        "status_changed": "status changed",
        "reopened": "reopened",
        "closed": "closed",
        "open": "open",
        "in_progress": "in progress",
        "pending_customer": "pending customer",
        "yes": "yes",
        "no": "no",
    },
    "fr": {
        "queue": "file {value}",
        "waited": "attente {value}",
        "hold": "mise en attente {value}",
        "transfer": "transfert {value}",
        "survey_resolved": "résolu : {value}",
        "resolved": "résolu",
        "had_to_repeat": "a dû se répéter",
        "answered": "décroché",
        "abandoned": "abandonné",
        "warm": "accompagné",
        "cold": "à froid",
        "opened": "ouvert",
        "assigned": "affecté",
        "reassigned": "réaffecté",
        "status_changed": "statut modifié",
        "reopened": "rouvert",
        "closed": "clos",
        "open": "ouvert",
        "in_progress": "en cours",
        "pending_customer": "en attente du client",
        "yes": "oui",
        "no": "non",
    },
}


def typography(text: str, lang: str) -> str:
    """French punctuation: a non-breaking space before : and % (U+00A0, as Babel puts before %),
    a narrow one before ; ? ! (U+202F). Applied to the catalogues, never to data."""
    if lang != "fr":
        return text
    text = re.sub(r" ([:%])", "\u00a0\\1", text)
    return re.sub(r" ([;?!])", "\u202f\\1", text)


class Formats:
    """Figures in a language's locale, by Babel: the one place a page's numbers are written."""

    def __init__(self, lang: str):
        self.lang = lang
        self.locale = Locale.parse(LOCALES[lang])
        # the locale's own percent pattern (45.5% / 45,5 %) with one decimal
        self.percent = re.sub(r"0(?!.*0)", "0.0", self.locale.percent_formats[None].pattern)

    def decimal(self, value: float, digits: int = 0, signed: bool = False) -> str:
        body = "#,##0" + ("." + "0" * digits if digits else "")
        pattern = f"+{body};-{body}" if signed else body
        return format_decimal(value, pattern, locale=self.locale)

    def whole_percent(self, share: float) -> str:
        """A share (0.45) as a whole percentage in the locale's own pattern: 45% / 45 %."""
        return format_percent(share, locale=self.locale)

    def count(self, value: float | None) -> str:
        return "" if value is None else self.decimal(value)

    def value(self, value: float | None, unit: str) -> str:
        """A figure as a page shows it; '' when there is none (the page says 'no data')."""
        if value is None:
            return ""
        if unit == "pct":
            return format_percent(value / 100, self.percent, locale=self.locale)
        if unit == "points":
            return self.decimal(value, 0, signed=True)
        if unit == "score":
            return self.decimal(value, 2)
        if unit in ("per_1000", "index", "days"):
            return self.decimal(value, 1)
        if unit == "seconds":
            return f"{self.decimal(value)}\u00a0s"  # never split from its unit
        return self.decimal(value)

    def change(self, change: float | None, unit: str) -> str:
        if change is None:
            return ""
        digits = 2 if unit == "score" else (0 if unit == "points" else 1)
        shown = self.decimal(change, digits, signed=True)
        return f"{shown}\u00a0pt" if unit == "pct" else shown

    def day(self, value: date | str | None) -> str:
        """A day (or its ISO text) as the locale writes it: 23 Nov 2026, 23 nov. 2026."""
        if not value:
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return format_date(value, "medium", locale=self.locale)

    def moment(self, value: datetime | None, seconds: bool = False) -> str:
        if value is None:
            return ""
        return format_datetime(value, "medium" if seconds else "short", tzinfo=value.tzinfo, locale=self.locale)


@cache
def formats(lang: str) -> Formats:
    if lang not in LANGUAGES:
        raise ValueError(f"language '{lang}': expected one of {list(LANGUAGES)}")
    return Formats(lang)


def timeline_detail(kind: str, facts: dict, lang: str) -> str:
    """A timeline entry's facts in words: a call segment's queue, outcome, wait, transfer and hold;
    a case event and its status; a survey's scores (its verbatim is shown apart, in its language)."""
    words, number = TIMELINE[lang], formats(lang)

    def word(value) -> str:
        return words.get(str(value), str(value))

    parts: list[str] = []
    if kind == "call":
        parts.append(words["queue"].format(value=facts.get("queue") or "?"))
        parts.append(word(facts.get("outcome")))
        if facts.get("wait_seconds") is not None:
            parts.append(words["waited"].format(value=number.value(facts["wait_seconds"], "seconds")))
        if facts.get("transfer_type") not in (None, "none"):
            parts.append(words["transfer"].format(value=word(facts["transfer_type"])))
        if (facts.get("hold_seconds") or 0) > 0:
            parts.append(words["hold"].format(value=number.value(facts["hold_seconds"], "seconds")))
        return ", ".join(parts)
    if kind == "case_event":
        status = facts.get("status")
        return word(facts.get("event_type")) + (f" ({word(status)})" if status else "")
    for score in ("nps", "csat", "ces"):
        if facts.get(score) is not None:
            parts.append(f"{score.upper()} {facts[score]}")
    if facts.get("resolved") is not None:
        parts.append(words["survey_resolved"].format(value=words["yes" if facts["resolved"] else "no"]))
    if facts.get("had_to_repeat"):
        parts.append(words["had_to_repeat"])
    return typography(", ".join(parts), lang)


def translator(lang: str):
    """t(key, **fields) for the page's words; term(name) for signals and reasons (unknown: as is)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language '{lang}': expected one of {list(LANGUAGES)}")
    text, terms = _catalogue(lang), TERMS[lang]

    def t(key: str, **fields) -> str:
        return text[key].format(**fields) if fields else text[key]

    def term(name: str) -> str:
        return terms.get(name, name)

    return t, term


@cache
def _catalogue(lang: str) -> dict[str, str]:
    return {key: typography(value, lang) for key, value in TEXT[lang].items()}


# The failure reasons' rules in French (the English ones are sql/vocabulary.yaml's `rule`, which
# the investigation pages show on English pages). A reason without one here shows the English
# rule, marked as English.
REASON_RULES_FR = {
    "bounce_back": "l'équipe destinataire avait déjà eu cet appel ou ce dossier",
    "dropped": "le client a raccroché dans la file d'attente de l'équipe destinataire",
    "ping_pong": (
        "l'appel ou le dossier a changé d'équipe au moins ping_pong_min_changes fois (un appel et un "
        "dossier de même identifiant comptés à part)\u00a0: tous ses passages de relais"
    ),
    "recontact": "le même client a rappelé dans les journey_window_days qui ont suivi le relais",
    "repeat_info": "une enquête sur cet appel (ou ce dossier) dit que le client a dû répéter des informations",
    "slow_pickup": (
        "l'équipe destinataire a mis plus que son délai pickup_sla à prendre le travail\u00a0: pour un "
        "transfert, l'attente dans sa file avant qu'un conseiller réponde (call_seconds)\u202f; pour une "
        "réaffectation, le délai jusqu'à l'événement suivant du dossier (case_hours)"
    ),
    "reopened": (
        "le dossier a été rouvert après une résolution par l'équipe à qui ce relais l'avait confié (le "
        "dernier relais avant cette résolution)"
    ),
}


def reason_rule(reason: str, lang: str, english: str) -> tuple[str, str]:
    """A failure reason's rule in the page's language, and the language it is in."""
    if lang == "fr" and reason in REASON_RULES_FR:
        return REASON_RULES_FR[reason], "fr"
    return english, "en"
