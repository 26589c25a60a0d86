import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { checkNewPassword, hashPassword, verifyPassword } from '../../../server/auth/passwords';
import { accessTokenSessionId, isRefreshTokenShape, newAccessToken, newRefreshToken, tokenHash } from '../../../server/auth/tokens';

describe('passwords', () => {
  describe('#hashPassword', () => {
    it('stores a salted scrypt hash that verifies the password and nothing else', async () => {
      const stored = await hashPassword('correct horse');
      assert.match(stored, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      assert.ok(!stored.includes('correct horse'));
      assert.notEqual(await hashPassword('correct horse'), stored, 'salted');
      assert.equal(await verifyPassword('correct horse', stored), true);
      assert.equal(await verifyPassword('correct horsE', stored), false);
    });
  });

  describe('#verifyPassword', () => {
    it('is false for an unknown user and for malformed stored hashes', async () => {
      assert.equal(await verifyPassword('anything', undefined), false);
      for (const stored of ['', 'plain', 'scrypt$1$2$3', 'scrypt$99999999$8$1$AA==$AA==', 'bcrypt$1$2$3$4$5']) {
        assert.equal(await verifyPassword('anything', stored), false, stored);
      }
    });
  });

  describe('#checkNewPassword', () => {
    it('refuses short, huge and non-string passwords with PASSWORD_INVALID', () => {
      for (const value of ['short', 'x'.repeat(1025), 12345678, undefined]) {
        assert.throws(() => checkNewPassword(value), (err: unknown) => isSyncError(err, 'PASSWORD_INVALID'));
      }
      assert.doesNotThrow(() => checkNewPassword('long enough'));
    });
  });
});

describe('tokens', () => {
  it('binds an access token to its session id and recognises only well-formed tokens', () => {
    const sessionId = '6f1c2a9e-1234-4abc-8def-0123456789ab';
    const token = newAccessToken(sessionId);
    assert.equal(accessTokenSessionId(token), sessionId);
    for (const bad of ['', 'rsa_x_y', `rsa_${sessionId}_short`, `${token}x`, 42, null]) {
      assert.equal(accessTokenSessionId(bad), null, String(bad));
    }
    const refresh = newRefreshToken();
    assert.ok(isRefreshTokenShape(refresh));
    assert.ok(!isRefreshTokenShape(token));
    assert.notEqual(newRefreshToken(), refresh);
    assert.match(tokenHash(refresh), /^[0-9a-f]{64}$/);
  });
});
