def tags_for(name):
    return list({"urgent", "draft"})  # set order follows the hash seed
