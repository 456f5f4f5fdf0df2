#!/usr/bin/env python3
"""Sub-labels of the complex flag by §3a condition, read from each dev letter's rationale.

The writers state in `rationale` why a letter is complex ("two named schools", "affects the whole
grade", "foreign element", "the district and the ward each say the other is responsible", "two
contents"). This script reads those reasons with the patterns below and writes one JSON line per
complex letter: {"id", "conditions": [...]} with conditions among
  places    verification at two or more named places (docs/domain.md §3a)
  contents  two or more separate contents (separate matters)
  many      many people affected, stated (a whole class / grade / school, N pupils, households)
  foreign   a foreign element
  agencies  several agencies responsible, or agencies disagreeing / passing the matter on
A complex letter whose rationale names none of them gets []. Letters not labelled complex are not
written (they meet no condition, by their label). The group flag is its own label (group implies
complex) and is not repeated here.

Only the rationale is read (never the letter's text), so the sub-labels are the writers' own
judgement, classified by keyword. How they were checked is in bench/RESULTS-tagging.md (round 6):
a random sample of 60 complex letters was read by hand against these sub-labels.

  python3 tools/danvan-letters/complex_conditions.py tests/corpus/letters/dev/*.jsonl \
      > tests/corpus/letters/complex-conditions.jsonl
"""
import json
import re
import sys

NUM = r"(?:\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred|dozens?|hundreds?|several|many|most|all|every|about \d+|over \d+|nearly \d+)"
PATTERNS = {
    "places": [
        r"\b(?:two|three|four|five|several|multiple|2|3|4) (?:named |different |separate )?(?:schools|places|sites|communes|wards|kindergartens|centres|centers|campuses|locations|districts|preschools|branches|hamlets|villages|islands|units|facilities|classes at)",
        r"\bverification (?:at|in|across) ", r"\bverif\w* (?:at|in) (?:two|three|several|both|each)",
        r"\bseveral (?:named )?(?:places|schools|sites|communes)"
        r"\bboth (?:schools|sites|campuses|communes|places|kindergartens)", r"\btwo places", r"\bplaces\b",
        r"\beach (?:school|site|commune)", r"\b(?:two|three|four|several|2|3) named \w+",
        r"\bboth the \w+ and the \w+", r"\bat both\b",
    ],
    "contents": [
        r"\btwo (?:separate )?(?:contents|matters|issues|problems|violations|requests|complaints|incidents|subjects|things)",
        r"\bthree (?:separate )?(?:contents|matters|issues|problems|violations)", r"\bseparate(?:ly)?\b",
        r"\bsecond (?:matter|content|issue)", r"\bunrelated\b", r"\bseveral (?:contents|matters|issues)",
        r"\btwo distinct", r"\bdistinct (?:matters|contents|issues)", r"\bmultiple (?:contents|matters|issues)",
        r"\banother (?:matter|incident|person)",
    ],
    "many": [
        r"\bwhole (?:class|grade|school|year|cohort|hamlet|village|commune|kindergarten|group|block|district|staff)",
        r"\bentire (?:class|grade|school|cohort)", r"\ball (?:pupils|students|children|families|parents|teachers|staff|households|classes)",
        r"\bmany (?:pupils|students|children|families|parents|people|teachers|households|learners|affected|candidates|workers|staff)",
        r"\bhundreds?\b", r"\bdozens?\b", r"\bthousands?\b",
        r"\b(?:about|over|nearly|some|around|more than|almost|roughly)? ?\d[\d,.]* (?:\w+ ){0,2}(?:pupils|students|children|families|parents|people|teachers|households|learners|toddlers|kids|candidates|staff|workers|cases|employees|classes|schools)",
        r"\baffect\w* (?:the |about |over |nearly |some )?(?:whole|all|many|every|most|entire|\d|hundreds|dozens|thousands|several)",
        r"\bmany (?:are |were )?affected", r"\b\d+-(?:child|pupil|person|student|member|family|household)",
        r"\b(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[\w-]* (?:\w+ ){0,2}(?:pupils|students|children|families|parents|people|teachers|households|learners|toddlers|kids|workers|staff)",
        r"\bacross the (?:school|class|grade|district)", r"\bstated to affect", r"\bmany (?:are|were) affected", r"\bmost of\b", r"\bschool-wide|grade-wide",
        r"\bmass\b", r"\bwidespread\b", r"\bmany people\b",
    ],
    "foreign": [
        r"\bforeign", r"\babroad\b", r"\boverseas\b", r"\binternational\b", r"\bexpat", r"\bnationality\b",
        r"\bjapan|korea|taiwan|china|chinese|american|australia|france|french|german|british|russia|laos|lao|cambodia|thai|singapore|philippin|viet kieu|việt kiều",
        r"\bdual citizen", r"\bstudy-abroad|study abroad",
    ],
    "agencies": [
        r"\bagenc(?:y|ies)", r"\b(?:two|three|several) bodies", r"\bdeflect", r"\bboth (?:the )?education and", r"\bseveral (?:bodies|offices|authorities|units|departments|levels)",
        r"\beach (?:say|says|said|refer|refers|referred|point|points|blame|blames|disclaim|disclaims|deny|denies)",
        r"\bblam\w+ each other", r"\bpass(?:ed|ing|es)? (?:it|the matter|him|her|them|the case) (?:on|back|around|between)",
        r"\bpassed (?:back and forth|around)", r"\bback and forth", r"\bdisagree", r"\bcontradict",
        r"\bbounc", r"\bshift\w* responsibility", r"\bdisclaim", r"\bnobody takes|no one takes|no body takes",
        r"\brefer\w* (?:him|her|them|it) to the other", r"\beach other\b", r"\bboth (?:offices|bodies|the district|sides)",
        r"\binter-?agency|cross-agency|several authorities|multiple (?:agencies|bodies|authorities)",
        r"\b(?:police|labour|health|justice|ward|commune|district) (?:and|,) ",
    ],
}
COMPILED = {k: [re.compile(p, re.I) for p in v] for k, v in PATTERNS.items()}


def conditions(rationale, group):
    r = rationale.replace("\u2019", "'")
    found = [k for k, pats in COMPILED.items() if any(p.search(r) for p in pats)]
    # A complex, non-group letter whose writer names no condition but gives it a secondary
    # content judged it a separate matter (the brief: a secondary kind alone is not complex).
    if not found and not group and re.search(r"\bsecondary\b|\balso\b|\bplus\b", r, re.I):
        found = ["contents"]
    return found


def main(files):
    for f in sorted(files):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                l = json.loads(line)
                if not l["labels"]["complex"]:
                    continue
                print(json.dumps({"id": l["id"], "conditions": conditions(l.get("rationale", ""), l["labels"]["group"])},
                                 ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
