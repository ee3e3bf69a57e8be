"""Internal mobility: postings and gigs, career preferences, applications, matching."""
