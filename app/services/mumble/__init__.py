"""Mumble: members' accounts on a Mumble server, and the authenticator that answers its logins.

The Mumble server (Debian's mumble-server, Murmur) asks Bastion through its ZeroC Ice interface
who may log in: ``authenticator.py`` registers with it and answers from members' grants. The
Slice definition is ``Murmur.ice`` from Mumble 1.3 (BSD licence, as its header says).
"""
