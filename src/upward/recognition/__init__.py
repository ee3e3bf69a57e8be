"""Recognition: company values, kudos, points, rewards, milestones, feed and insights."""
