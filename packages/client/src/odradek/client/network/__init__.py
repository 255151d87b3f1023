"""
The client's network layer on Twisted: connections to brokers with request/response
correlation, the pool of connections per node, and the metadata of the cluster.
"""
