#!/usr/bin/env python3
"""Latency of Cognito operations against a running emulator, through boto3.

    python3 scripts/cognito_latency.py http://127.0.0.1:4566 [--runs N]

CreateUserPool is dominated by RSA-2048 key generation; REFRESH_TOKEN_AUTH issues an ID and an
access token (two RS256 signatures) without a password check; USER_PASSWORD_AUTH adds the
argon2id password check and a refresh token. Prints medians in milliseconds.
"""
import argparse
import statistics
import time

import boto3


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    idp = boto3.client("cognito-idp", endpoint_url=a.endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    create = timed(lambda: idp.create_user_pool(PoolName="bench"), a.runs)
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="bench",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="u", Password="Bench-Pass-1", Permanent=True)
    login = lambda: idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "u", "PASSWORD": "Bench-Pass-1"})
    refresh_token = login()["AuthenticationResult"]["RefreshToken"]
    password = timed(login, a.runs)
    refresh = timed(lambda: idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                              AuthParameters={"REFRESH_TOKEN": refresh_token}), a.runs)
    print("| operation | median (ms) |")
    print("|---|---|")
    print(f"| CreateUserPool (RSA-2048 key generation) | {create:.1f} |")
    print(f"| InitiateAuth REFRESH_TOKEN_AUTH (issue ID + access token) | {refresh:.1f} |")
    print(f"| InitiateAuth USER_PASSWORD_AUTH (argon2id + tokens) | {password:.1f} |")


if __name__ == "__main__":
    main()
