"""Development: the skills catalog and proficiency scale (first part of the domain; career
tracks, readiness, development plans, check-ins, feedback and mentorship build on it)."""
