"""FIPA-ACL lite messages between agents: delegation, broadcast, contract-net."""
