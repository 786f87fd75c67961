"""The user's licensed Fabric of broadband serviceable locations, and matching to it.

The Fabric is licensed to each filer by CostQuest: it is loaded from the user's own
files, never shipped, and never logged row by row.
"""
